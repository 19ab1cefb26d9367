package io.unbroken.saga;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.events.EventStorage;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.StreamAppend;
import io.unbroken.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * What every {@link SagaStore} promises over the rows its sagas' appends write: a saga is its
 * starter's while the lease runs; once it ran out (or was released) exactly one other node takes
 * it, under a higher fencing token, and the old owner's renewal no longer names it; ended sagas
 * are never taken; the compensation deadline is judged by the store's clock; listings page by id.
 */
public abstract class SagaStoreContract {

  private static final Duration LEASE = Duration.ofMillis(600);

  /** The event storage whose appends write the saga rows, and the saga store reading them. */
  public record Stores(EventStorage events, SagaStore sagas) {}

  protected abstract Stores createStores(Vertx vertx, String testName);

  /** Lets {@code duration} of the store's time pass. */
  protected abstract void letTimePass(Duration duration);

  private Vertx vertx;
  private EventStorage events;
  private SagaStore store;

  @BeforeEach
  void start(TestInfo test) {
    vertx = Vertx.vertx();
    Stores stores = createStores(vertx, test.getTestMethod().orElseThrow().getName());
    events = stores.events();
    store = stores.sagas();
  }

  @AfterEach
  void stop() {
    Await.result(vertx.close());
  }

  @Test
  public void aSagaIsItsStartersWhileTheLeaseRunsThenExactlyOneOtherNodeTakesItUnderAHigherFence() {
    SagaState saga = started("101", "node-a");
    assertThat(Await.result(store.renew("node-a", Set.of("101"), LEASE))).as("none lost").isEmpty();
    assertThat(Await.result(store.takeOver("node-b", LEASE, 10))).as("lease running").isEmpty();

    letTimePass(LEASE.multipliedBy(2));
    List<SagaStore.Owned> takenByB = Await.result(store.takeOver("node-b", LEASE, 10));
    List<SagaStore.Owned> takenByC = Await.result(store.takeOver("node-c", LEASE, 10));

    assertThat(takenByB).containsExactly(new SagaStore.Owned(saga.id(), 2));
    assertThat(takenByC).as("b's lease runs").isEmpty();
    assertThat(Await.result(store.renew("node-a", Set.of("101"), LEASE))).as("a lost it").containsExactly("101");
    assertThat(Await.result(store.renew("node-b", Set.of("101"), LEASE))).isEmpty();
  }

  @Test
  public void aSagaItsOwnerDoesNotRunIsNotRenewedSoItsLeaseEnds() {
    started("106", "node-a");
    Await.result(store.renew("node-a", Set.of("other"), LEASE));

    letTimePass(LEASE.multipliedBy(2));
    assertThat(Await.result(store.takeOver("node-b", LEASE, 10))).extracting(SagaStore.Owned::sagaId)
        .containsExactly("106");
  }

  @Test
  public void aReleasedSagaIsTakenAtOnce() {
    started("102", "node-a");
    Await.result(store.release("node-a"));

    assertThat(Await.result(store.takeOver("node-b", LEASE, 10))).extracting(SagaStore.Owned::sagaId)
        .containsExactly("102");
  }

  @Test
  public void endedAndReviewedSagasAreNeitherRenewedNorTaken() {
    SagaState completed = started("103", "node-a");
    record(completed, SagaEvents.COMPLETED, new JsonObject(), Map.of());
    SagaState inReview = started("104", "node-a");
    record(inReview, SagaEvents.NEEDS_REVIEW, new JsonObject().put("reason", "stuck"), Map.of());
    letTimePass(LEASE.multipliedBy(2));

    assertThat(Await.result(store.renew("node-a", Set.of(completed.id(), inReview.id()), LEASE)))
        .as("ended by their owner, who finishes their runs: not lost").isEmpty();
    assertThat(Await.result(store.takeOver("node-b", LEASE, 10))).isEmpty();
  }

  @Test
  public void theCompensationDeadlineCountsFromWhenCompensationBeganByTheStoresClock() {
    SagaState saga = started("105", "node-a");
    assertThat(Await.result(store.compensationOverdue(saga.id(), Duration.ZERO))).as("not compensating").isFalse();
    record(saga, SagaEvents.STEP_FAILED, SagaEvents.data("pay", 1).put("final", true), SagaEvents.compensationBegins());

    assertThat(Await.result(store.compensationOverdue(saga.id(), Duration.ofMinutes(1)))).isFalse();
    letTimePass(LEASE);
    assertThat(Await.result(store.compensationOverdue(saga.id(), LEASE.dividedBy(2)))).isTrue();
  }

  @Test
  public void listingsPageInIdOrderByStatusAndCountsAddUp() {
    for (int i = 0; i < 5; i++) {
      SagaState saga = started("20" + i, "node-a");
      if (i % 2 == 0) {
        record(saga, SagaEvents.COMPLETED, new JsonObject(), Map.of());
      }
    }
    List<JsonObject> firstPage = Await.result(store.list(Optional.of(SagaStatus.COMPLETED), Optional.empty(), 2));
    List<JsonObject> secondPage = Await.result(store.list(Optional.of(SagaStatus.COMPLETED),
        Optional.of(firstPage.get(1).getString("id")), 2));

    assertThat(firstPage).extracting(row -> row.getString("id")).containsExactly("200", "202");
    assertThat(secondPage).extracting(row -> row.getString("id")).containsExactly("204");
    assertThat(firstPage.get(0).getString("name")).isEqualTo("order");
    assertThat(Await.result(store.list(Optional.empty(), Optional.empty(), 100))).hasSize(5);
    assertThat(Await.result(store.count())).containsEntry(SagaStatus.COMPLETED, 3L)
        .containsEntry(SagaStatus.RUNNING, 2L).containsEntry(SagaStatus.REVIEW, 0L);
  }

  private SagaState started(String id, String node) {
    SagaState state = new SagaState(id);
    JsonObject data = new JsonObject().put("name", "order").put("input", new JsonObject()).put("fence", 1L);
    state.apply(SagaEvents.STARTED, data, Instant.now());
    append(state, NewEvent.of(SagaEvents.STARTED, data), ExpectedVersion.NO_STREAM,
        SagaEvents.created(node, LEASE));
    return state;
  }

  private void record(SagaState state, String type, JsonObject data, Map<String, Object> columns) {
    int version = state.version();
    state.apply(type, data, Instant.now());
    append(state, NewEvent.of(type, data), ExpectedVersion.exactly(version), columns);
  }

  private void append(SagaState state, NewEvent event, ExpectedVersion expected, Map<String, Object> columns) {
    Await.result(events.appendBatch(List.of(new StreamAppend(SagaEvents.streamOf(state.id()), expected,
        List.of(event), List.of(SagaEvents.row(state, columns))))).compose(outcomes -> outcomes.get(0).toFuture()));
  }
}
