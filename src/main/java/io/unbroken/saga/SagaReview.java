package io.unbroken.saga;

import io.unbroken.config.SagaConfig;
import io.unbroken.events.EventStore;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.StreamAppend;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What an operator sees of sagas and does about those in review: each action is an event with who
 * took it and why, appended at the version the operator's view was folded at, so it cannot cross a
 * coordinator's transition unseen.
 */
public final class SagaReview {

  /** What an operator can do to a saga in review. */
  public enum Action {
    /** Try the failing compensation again, with a fresh compensation deadline. */
    RETRY,
    /** The failing compensation was done by hand: go on with the next one. */
    SKIP,
    /** Close the saga as it stands, with a note. */
    RESOLVE
  }

  /** The saga does not exist (as of the time asked). */
  public static final class NotFound extends RuntimeException {
    NotFound(String sagaId) {
      super("no saga " + sagaId, null, false, false);
    }
  }

  /** The action needs the saga in review, and it is not. */
  public static final class NotInReview extends RuntimeException {
    NotInReview(String sagaId, SagaStatus status) {
      super("saga " + sagaId + " is " + status.label() + ", not in review", null, false, false);
    }
  }

  private final Vertx vertx;
  private final EventStore events;
  private final SagaStore store;
  private final Map<String, SagaConfig> sagas;

  public SagaReview(Vertx vertx, EventStore events, SagaStore store, List<SagaConfig> sagas) {
    this.vertx = vertx;
    this.events = events;
    this.store = store;
    this.sagas = sagas.stream().collect(Collectors.toMap(SagaConfig::name, Function.identity()));
  }

  /** The saga's state, steps and event timeline as of {@code asOf}. */
  public Future<JsonObject> show(String sagaId, Instant asOf) {
    return read(sagaId, asOf).map(recorded -> {
      SagaState state = SagaCoordinator.fold(sagaId, recorded);
      JsonArray timeline = new JsonArray();
      recorded.forEach(event -> timeline.add(new JsonObject().put("version", event.streamVersion())
          .put("type", event.type()).put("recordedAt", event.recordedAt().toString()).put("hlc", event.hlc())
          .put("data", event.data()).put("metadata", event.metadata())));
      return state.toJson(sagas.get(state.name())).put("events", timeline);
    });
  }

  /** A page of sagas in id order; {@code next} is the cursor of the following page, or null. */
  public Future<JsonObject> list(Optional<SagaStatus> status, Optional<String> after, int limit) {
    return store.list(status, after, limit).map(listed -> new JsonObject().put("sagas", new JsonArray(listed))
        .put("next", listed.size() == limit ? listed.get(listed.size() - 1).getString("id") : null));
  }

  public Future<JsonObject> summary() {
    return store.count().map(counts -> {
      JsonObject summary = new JsonObject();
      counts.forEach((status, count) -> summary.put(status.label(), count));
      return summary;
    });
  }

  /** Takes {@code action} on a saga in review, recorded as done by {@code by} because {@code why}. */
  public Future<JsonObject> act(String sagaId, Action action, String by, String why) {
    return read(sagaId, Instant.MAX).compose(recorded -> {
      SagaState state = SagaCoordinator.fold(sagaId, recorded);
      if (state.status() != SagaStatus.REVIEW) {
        return Future.failedFuture(new NotInReview(sagaId, state.status()));
      }
      int version = state.version();
      JsonObject data = new JsonObject().put("by", by).put(action == Action.RESOLVE ? "note" : "why", why);
      String type = switch (action) {
        case RETRY -> SagaEvents.RETRIED;
        case SKIP -> SagaEvents.COMPENSATION_SKIPPED;
        case RESOLVE -> SagaEvents.RESOLVED;
      };
      if (action != Action.RESOLVE) {
        data.put("step", state.currentStep());
      }
      state.apply(type, data, Instant.now());
      NewEvent event = new NewEvent(type, data, new JsonObject().put("sagaId", sagaId).put("operator", by));
      Map<String, Object> columns = action == Action.RESOLVE ? Map.of() : SagaEvents.released();
      return events.append(new StreamAppend(SagaEvents.streamOf(sagaId), ExpectedVersion.exactly(version),
              List.of(event), List.of(SagaEvents.row(state, columns))))
          .onSuccess(appended -> vertx.eventBus().send(SagaAddresses.LOOK_AROUND, null))
          .map(appended -> state.toJson(sagas.get(state.name())));
    });
  }

  private Future<List<RecordedEvent>> read(String sagaId, Instant asOf) {
    return events.readStream(SagaEvents.streamOf(sagaId), 1, asOf)
        .compose(recorded -> recorded.isEmpty() ? Future.failedFuture(new NotFound(sagaId))
            : Future.succeededFuture(recorded));
  }
}
