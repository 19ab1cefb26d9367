package io.unbroken.saga;

import io.unbroken.events.SideRow;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The events of a saga's stream {@code saga-<id>}, and the row of table {@code sagas} written with
 * each of them. Calls are announced before they are made ({@code StepStarted},
 * {@code CompensationStarted}) and their answers recorded after, so a node that resumes a saga
 * knows which call may have been made without its answer being known, and makes it again under
 * the same Idempotency-Key.
 */
public final class SagaEvents {

  public static final String STARTED = "SagaStarted";
  public static final String RESUMED = "SagaResumed";
  public static final String STEP_STARTED = "StepStarted";
  public static final String STEP_SUCCEEDED = "StepSucceeded";
  public static final String STEP_FAILED = "StepFailed";
  public static final String COMPENSATION_STARTED = "CompensationStarted";
  public static final String COMPENSATION_SUCCEEDED = "CompensationSucceeded";
  public static final String COMPENSATION_FAILED = "CompensationFailed";
  public static final String COMPENSATION_SKIPPED = "CompensationSkipped";
  public static final String COMPLETED = "SagaCompleted";
  public static final String COMPENSATED = "SagaCompensated";
  public static final String NEEDS_REVIEW = "SagaNeedsReview";
  public static final String RETRIED = "SagaRetried";
  public static final String RESOLVED = "SagaResolved";

  public static final String TABLE = "sagas";

  private SagaEvents() {}

  public static String streamOf(String sagaId) {
    return "saga-" + sagaId;
  }

  /**
   * The saga's row as it stands after an event: its status and step, why it stopped and the last
   * failing answer; {@code more} adds columns that change only at some events.
   */
  static SideRow row(SagaState state, Map<String, Object> more) {
    Map<String, Object> columns = new HashMap<>(more);
    columns.put("saga_id", state.id());
    // PostgreSQL checks an upsert's row as an insert first: the columns without defaults go every time.
    columns.put("name", state.name());
    columns.put("status", state.status().label());
    columns.put("step", state.currentStep());
    columns.put("reason", state.reason());
    columns.put("last_answer", state.lastAnswer());
    columns.put("updated_at", SideRow.StoreTime.NOW);
    return new SideRow(TABLE, columns, List.of("saga_id"));
  }

  /** The columns of a new saga: owned by {@code node} under fencing token 1 for {@code lease}. */
  static Map<String, Object> created(String node, Duration lease) {
    return Map.of("owner", node, "fence", 1L, "lease_until", new SideRow.StoreTime(lease),
        "started_at", SideRow.StoreTime.NOW);
  }

  /** The compensation deadline starts (again) now, by the store's clock. */
  static Map<String, Object> compensationBegins() {
    return Map.of("compensating_since", SideRow.StoreTime.NOW);
  }

  /** Given back by an operator: no owner, a lease already over, so the next node looking takes it. */
  static Map<String, Object> released() {
    return Map.of("owner", "", "lease_until", SideRow.StoreTime.NOW, "compensating_since", SideRow.StoreTime.NOW);
  }

  static JsonObject data(String step, int attempt) {
    return new JsonObject().put("step", step).put("attempt", attempt);
  }
}
