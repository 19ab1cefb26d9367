package io.unbroken.zombie;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.base.Ticker;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.StatusSet;
import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.unbroken.embedded.EmbeddedLocks;
import io.unbroken.events.EventStorage;
import io.unbroken.events.EventStore;
import io.unbroken.events.EventStoreClient;
import io.unbroken.events.EventStoreVerticle;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.StreamAppend;
import io.unbroken.idempotency.Claim;
import io.unbroken.idempotency.ClaimTicket;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.idempotency.IdempotencyMetrics;
import io.unbroken.idempotency.KeyFilter;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.WorkerLeaseStore;
import io.unbroken.locks.ResourceLocks;
import io.unbroken.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * What every {@link OrphanedRequests} store promises, and what the {@link Reaper} does with it:
 * rows of nodes with a live lease are left alone, rows of nodes without one are found oldest
 * first, a terminal event takes its row along, one node at a time holds the reaper lease, and a
 * pass ends each orphan exactly once with {@code RequestAbandoned}, settling its key by the
 * route's {@code unknown} policy.
 */
public abstract class OrphanedRequestsContract {

  protected static final Duration SHORT = Duration.ofMillis(500);
  private static final Duration LONG = Duration.ofSeconds(60);
  private static final RouteConfig RETRY_ROUTE = route("/retry", IdempotencyPolicy.Unknown.RETRY);
  private static final RouteConfig HOLD_ROUTE = route("/hold", IdempotencyPolicy.Unknown.HOLD);

  /** The stores under test, empty; {@code events} and {@code orphans} share one database. */
  public record Stores(EventStorage events, WorkerLeaseStore leases, OrphanedRequests orphans) {}

  protected abstract Stores createStores(Vertx vertx, String testName);

  /** Lets {@code duration} of the stores' time pass. */
  protected abstract void letTimePass(Duration duration);

  private Vertx vertx;
  private Stores stores;
  private EventStore events;
  private Idempotency idempotency;

  @BeforeEach
  void start(TestInfo test) {
    vertx = Vertx.vertx();
    EventStoreClient.registerCodecs(vertx);
    stores = createStores(vertx, test.getTestMethod().orElseThrow().getName());
    Await.result(vertx.deployVerticle(new EventStoreVerticle(stores.events(),
        new EventStoreVerticle.Batching(256, Duration.ofMillis(1), 1, Duration.ofDays(30)), new SimpleMeterRegistry())));
    events = new EventStoreClient(vertx, stores.events(), Duration.ofSeconds(10));
    EmbeddedIdempotencyRecords keys = new EmbeddedIdempotencyRecords(InstantSource.system());
    idempotency = new Idempotency(vertx, keys, Optional.empty(), Optional.of(keys), new KeyFilter(1_000, 0.01),
        new IdempotencyMetrics(new SimpleMeterRegistry()), Ticker.systemTicker(),
        new HybridLogicalClock(InstantSource.system(), 1_000), LONG);
  }

  @AfterEach
  void stop() {
    Await.result(vertx.close());
  }

  @Test
  public void rowsOfNodesWithoutALiveLeaseAreFoundOldestFirst() {
    Await.result(stores.leases().acquire(0, "alive", LONG));
    Await.result(stores.leases().acquire(0, "dying", SHORT));
    String ofAlive = open("alive", RETRY_ROUTE, "");
    String ofDying = open("dying", RETRY_ROUTE, "");
    letTimePass(Duration.ofMillis(10)); // so the two are apart in time, by any store's clock
    String ofNeverLeased = open("ghost", RETRY_ROUTE, "");
    letTimePass(SHORT.multipliedBy(3));

    OrphanedRequests.Found found = Await.result(stores.orphans().ofDeadNodes(10));

    assertThat(found.requests()).extracting(InflightRequest::requestId).containsExactly(ofDying, ofNeverLeased)
        .doesNotContain(ofAlive);
    InflightRequest first = found.requests().get(0);
    assertThat(first.node()).isEqualTo("dying");
    assertThat(first.route()).isEqualTo("/retry");
    assertThat(first.timeoutMillis()).isEqualTo(5_000);
    assertThat(Duration.between(first.started(), found.storeTime())).as("age by the store's clock")
        .isBetween(SHORT, Duration.ofSeconds(30));
    assertThat(Await.result(stores.orphans().ofDeadNodes(1)).requests()).hasSize(1);
  }

  @Test
  public void aTerminalEventTakesItsRowAlong() {
    String ended = open("ghost", RETRY_ROUTE, "");
    Await.result(events.append(new StreamAppend(RequestLifecycle.streamOf(ended), ExpectedVersion.exactly(2),
        List.of(NewEvent.of(RequestLifecycle.COMPLETED, new JsonObject())), List.of(InflightRequest.rowRemoval(ended)))));

    assertThat(Await.result(stores.orphans().ofDeadNodes(10)).requests()).isEmpty();
  }

  @Test
  public void oneNodeAtATimeHoldsTheReaperLease() {
    assertThat(Await.result(stores.orphans().leaseReaper("a", SHORT))).as("first taker").isTrue();
    assertThat(Await.result(stores.orphans().leaseReaper("b", LONG))).as("another while it runs").isFalse();
    assertThat(Await.result(stores.orphans().leaseReaper("a", SHORT))).as("the holder again").isTrue();
    letTimePass(SHORT.multipliedBy(3));
    assertThat(Await.result(stores.orphans().leaseReaper("b", LONG))).as("another once it ran out").isTrue();
    assertThat(Await.result(stores.orphans().leaseReaper("a", SHORT))).as("the first, now").isFalse();
  }

  @Test
  public void aPassAbandonsEachOrphanOnceAndSettlesItsKeyByTheRoutesPolicy() {
    Await.result(stores.leases().acquire(0, "alive", LONG));
    String running = open("alive", RETRY_ROUTE, "");
    String plain = open("ghost", RETRY_ROUTE, "");
    ClaimTicket retryKey = claim("retry-" + UUID.randomUUID());
    String retried = open("ghost", RETRY_ROUTE, retryKey);
    ClaimTicket holdKey = claim("hold-" + UUID.randomUUID());
    String held = open("ghost", HOLD_ROUTE, holdKey);
    Reaper reaper = reaper("reaper-node");

    Reaper.Pass pass = Await.result(reaper.pass());
    Reaper.Pass again = Await.result(reaper("other-node").pass());
    Reaper.Pass second = Await.result(reaper.pass());

    assertThat(pass).isEqualTo(new Reaper.Pass(true, 3));
    assertThat(again).as("another node while the first holds the lease").isEqualTo(new Reaper.Pass(false, 0));
    assertThat(second).as("nothing left").isEqualTo(new Reaper.Pass(true, 0));
    for (String abandoned : List.of(plain, retried, held)) {
      List<RecordedEvent> stream = stream(abandoned);
      assertThat(stream).extracting(RecordedEvent::type).containsExactly(RequestLifecycle.ACCEPTED,
          RequestLifecycle.FORWARDED, RequestLifecycle.ABANDONED);
      JsonObject data = stream.get(2).data();
      assertThat(data.getString("deadNode")).isEqualTo("ghost");
      assertThat(data.getString("reaper")).isEqualTo("reaper-node");
      assertThat(data.getString("lastPhase")).isEqualTo("forwarded");
    }
    assertThat(stream(running)).as("a live node's request").hasSize(2);
    assertThat(Await.result(stores.orphans().ofDeadNodes(10)).requests()).isEmpty();

    Claim afterRetry = Await.result(idempotency.claim(idempotency.ticket(retryKey.scopeKey(), retryKey.fingerprint(),
        "next-attempt", LONG)));
    assertThat(afterRetry).as("unknown: retry frees the key for the next attempt").isInstanceOf(Claim.Claimed.class);
    Claim afterHold = Await.result(idempotency.claim(idempotency.ticket(holdKey.scopeKey(), holdKey.fingerprint(),
        "next-attempt", LONG)));
    assertThat(afterHold).as("unknown: hold keeps the key as an unknown outcome").isInstanceOfSatisfying(
        Claim.Completed.class, completed -> assertThat(completed.answer().isUnknown()).isTrue());
  }

  @Test
  public void aRequestThatRecordedItsOwnEndIsNotAbandoned() {
    String request = open("ghost", RETRY_ROUTE, "");
    // The request's node recorded its end after the pass read the row: the pass's append expects
    // the opening events only, so it loses, and the request keeps the end it recorded.
    Await.result(events.append(StreamAppend.of(RequestLifecycle.streamOf(request), ExpectedVersion.exactly(2),
        NewEvent.of(RequestLifecycle.COMPLETED, new JsonObject()))));

    Reaper.Pass pass = Await.result(reaper("reaper-node").pass());

    assertThat(pass.abandoned()).isZero();
    assertThat(stream(request)).extracting(RecordedEvent::type).last().isEqualTo(RequestLifecycle.COMPLETED);
    assertThat(Await.result(stores.orphans().ofDeadNodes(10)).requests()).as("its row is removed all the same")
        .isEmpty();
  }

  private Reaper reaper(String node) {
    EmbeddedLocks locks = new EmbeddedLocks(InstantSource.system());
    return new Reaper(stores.orphans(), events, idempotency, new ResourceLocks(vertx, locks, locks),
        List.of(RETRY_ROUTE, HOLD_ROUTE), node, LONG, new SimpleMeterRegistry());
  }

  private ClaimTicket claim(String scopeKey) {
    ClaimTicket ticket = idempotency.ticket(scopeKey, "fingerprint", "r-" + UUID.randomUUID(), LONG);
    assertThat(Await.result(idempotency.claim(ticket))).isInstanceOf(Claim.Claimed.class);
    return ticket;
  }

  private String open(String node, RouteConfig route, ClaimTicket key) {
    return open(node, route, key.scopeKey(), key.fingerprint(), key.owner());
  }

  private String open(String node, RouteConfig route, String scope) {
    return open(node, route, scope, "", "r-" + UUID.randomUUID());
  }

  /** Records a request's opening events with its in-flight row, as a sync route does. */
  private String open(String node, RouteConfig route, String scope, String fingerprint, String requestId) {
    InflightRequest inflight = new InflightRequest(requestId, node, route.prefix(), "POST", route.prefix() + "/1",
        "127.0.0.1", scope, fingerprint, Instant.now(), 5_000);
    Await.result(events.append(new StreamAppend(RequestLifecycle.streamOf(requestId), ExpectedVersion.NO_STREAM,
        List.of(NewEvent.of(RequestLifecycle.ACCEPTED, new JsonObject()),
            NewEvent.of(RequestLifecycle.FORWARDED, new JsonObject())), List.of(inflight.row()))));
    return requestId;
  }

  private List<RecordedEvent> stream(String requestId) {
    return Await.result(events.readStream(RequestLifecycle.streamOf(requestId), 1, Instant.MAX));
  }

  private static RouteConfig route(String prefix, IdempotencyPolicy.Unknown unknown) {
    return new RouteConfig(prefix, URI.create("http://127.0.0.1:1"), Set.of(), Duration.ofSeconds(5), 1 << 20,
        RouteConfig.EventsMode.SYNC, new IdempotencyPolicy(IdempotencyPolicy.Mode.REQUIRED, LONG,
            IdempotencyPolicy.Inflight.REJECT, "none", List.of(), List.of(), StatusSet.DEFAULT_RELEASED,
            Duration.ofSeconds(30), unknown, 1 << 20));
  }
}
