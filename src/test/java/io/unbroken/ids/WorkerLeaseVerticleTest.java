package io.unbroken.ids;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.embedded.EmbeddedWorkerLeaseStore;
import io.unbroken.ids.WorkerLeaseStore.NoWorkerIdAvailable;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The lease keeper against the embedded store on a manual clock: leases expire only when the test
 * moves the clock, while heartbeats run on real 20 ms timers. Vert.x runs one event loop, so a step
 * the test runs on it never falls between two of the verticle's.
 */
@ExtendWith(VertxExtension.class)
class WorkerLeaseVerticleTest {

  private static final int DATACENTER = 7;
  private static final String NODE = "node-a";
  private static final Duration LEASE = Duration.ofSeconds(2);
  private static final Duration HEARTBEAT = Duration.ofMillis(20);
  /** How long a poll waits for what a few heartbeats should bring about. */
  private static final Duration WAIT = Duration.ofSeconds(5);

  private final Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
  private final ManualClock clock = ManualClock.at("2025-06-01T12:00:00Z");
  private final EmbeddedWorkerLeaseStore leases = new EmbeddedWorkerLeaseStore(clock);
  private final Renewals renewals = new Renewals(leases);
  private final SnowflakeIds ids = new SnowflakeIds(clock, clock::millis, DATACENTER, 5_000);

  @AfterEach
  void closeVertx(VertxTestContext testContext) {
    vertx.close().onComplete(testContext.succeedingThenComplete());
  }

  @Test
  void deployingLeasesAnIdAndUndeployingGivesItBack(VertxTestContext testContext) {
    AtomicLong whileDeployed = new AtomicLong();
    AtomicLong afterUndeploy = new AtomicLong();
    vertx.deployVerticle(leaseKeeper(leases))
        .onSuccess(deployment -> whileDeployed.set(ids.nextId()))
        .compose(vertx::undeploy)
        .onSuccess(undeployed -> afterUndeploy.set(ids.nextId()))
        .compose(undeployed -> leases.acquire(DATACENTER, "next-node", LEASE))
        .onComplete(testContext.succeeding(nextNodes -> testContext.verify(() -> {
          assertThat(whileDeployed.get()).isPositive();
          assertThat(SnowflakeIds.datacenter(whileDeployed.get())).isEqualTo(DATACENTER);
          assertThat(SnowflakeIds.worker(whileDeployed.get())).isZero();
          assertThat(afterUndeploy.get()).isEqualTo(SnowflakeIds.UNAVAILABLE);
          assertThat(nextNodes).as("id leased by the next node").isZero();
          testContext.completeNow();
        })));
  }

  @Test
  void deployingFailsWhenEveryIdIsLeased(VertxTestContext testContext) {
    fillFrom(0)
        .compose(full -> vertx.deployVerticle(leaseKeeper(leases)))
        .onComplete(testContext.failing(failure -> testContext.verify(() -> {
          assertThat(failure).isInstanceOf(NoWorkerIdAvailable.class);
          assertThat(ids.nextId()).isEqualTo(SnowflakeIds.UNAVAILABLE);
          testContext.completeNow();
        })));
  }

  @Test
  void aLeaseTakenByAnotherNodeStopsIdsUntilANewOneIsLeased(VertxTestContext testContext) {
    AtomicReference<String> reasonWhileStopped = new AtomicReference<>();
    AtomicLong afterwards = new AtomicLong();
    vertx.deployVerticle(leaseKeeper(leases))
        .compose(deployment -> fillFrom(1))
        .compose(full -> onTheEventLoop(this::giveWorkerZeroToAnIntruder))
        .compose(intruders -> eventually("ids stop", () -> ids.nextId() == SnowflakeIds.UNAVAILABLE))
        .onSuccess(stopped -> reasonWhileStopped.set(ids.unavailableReason()))
        .compose(stopped -> leases.release(DATACENTER, 5, "other-5"))
        .compose(freed -> eventually("ids resume", () -> issues(afterwards)))
        .onComplete(testContext.succeeding(resumed -> testContext.verify(() -> {
          assertThat(reasonWhileStopped.get()).isEqualTo("no worker id is leased");
          assertThat(SnowflakeIds.worker(afterwards.get())).as("the only id left free").isEqualTo(5);
          testContext.completeNow();
        })));
  }

  @Test
  void idsStopAtTheLeaseEndWhenRenewalsFailAndANewIdIsLeasedOnceTheyWork(VertxTestContext testContext) {
    AtomicLong lastMillisecond = new AtomicLong();
    AtomicLong atLeaseEnd = new AtomicLong();
    AtomicReference<String> reasonAtLeaseEnd = new AtomicReference<>();
    AtomicLong afterwards = new AtomicLong();
    vertx.deployVerticle(leaseKeeper(renewals))
        .onSuccess(deployment -> renewals.failing())
        .compose(failing -> eventually("a renewal fails", () -> renewals.failed() > 0))
        .onSuccess(failed -> {
          clock.advance(LEASE.toMillis() - 1);
          lastMillisecond.set(ids.nextId());
          clock.advance(1);
          atLeaseEnd.set(ids.nextId());
          reasonAtLeaseEnd.set(ids.unavailableReason());
        })
        .compose(ended -> leases.acquire(DATACENTER, "next-node", LEASE))
        .onSuccess(nextNodes -> renewals.answering())
        .compose(answering -> eventually("ids resume", () -> issues(afterwards)))
        .onComplete(testContext.succeeding(resumed -> testContext.verify(() -> {
          assertThat(SnowflakeIds.worker(lastMillisecond.get())).as("id in the lease's last millisecond").isZero();
          assertThat(atLeaseEnd.get()).isEqualTo(SnowflakeIds.UNAVAILABLE);
          assertThat(reasonAtLeaseEnd.get()).isEqualTo("the worker-id lease has not been renewed in time");
          assertThat(SnowflakeIds.worker(afterwards.get())).as("worker 0 went to the next node").isEqualTo(1);
          testContext.completeNow();
        })));
  }

  @Test
  void aRenewalThatIsNeverAnsweredDoesNotStopLaterHeartbeats(VertxTestContext testContext) {
    AtomicLong atLeaseEnd = new AtomicLong();
    AtomicLong afterwards = new AtomicLong();
    vertx.deployVerticle(leaseKeeper(renewals))
        .onSuccess(deployment -> renewals.hanging())
        .compose(hanging -> eventually("a renewal is sent", () -> renewals.unanswered() > 0))
        .onSuccess(sent -> {
          clock.advance(LEASE.toMillis());
          atLeaseEnd.set(ids.nextId());
          renewals.answering();
        })
        .compose(answering -> eventually("ids resume", () -> issues(afterwards)))
        .onComplete(testContext.succeeding(resumed -> testContext.verify(() -> {
          assertThat(atLeaseEnd.get()).isEqualTo(SnowflakeIds.UNAVAILABLE);
          assertThat(SnowflakeIds.worker(afterwards.get())).isZero();
          testContext.completeNow();
        })));
  }

  private WorkerLeaseVerticle leaseKeeper(WorkerLeaseStore store) {
    return new WorkerLeaseVerticle(store, ids, clock, DATACENTER, NODE, LEASE, HEARTBEAT);
  }

  /** Leases every id from {@code first} up to the last to other nodes {@code other-<id>}. */
  private Future<Void> fillFrom(int first) {
    Future<Void> chain = Future.succeededFuture();
    for (int worker = first; worker <= SnowflakeIds.MAX_WORKER; worker++) {
      String owner = "other-" + worker;
      chain = chain.compose(done -> leases.acquire(DATACENTER, owner, LEASE).mapEmpty());
    }
    return chain;
  }

  /** The node gives worker 0 back and an intruder leases it before the node's next heartbeat. */
  private Future<Integer> giveWorkerZeroToAnIntruder() {
    return leases.release(DATACENTER, 0, NODE)
        .compose(released -> leases.acquire(DATACENTER, "intruder", LEASE));
  }

  private <T> Future<T> onTheEventLoop(Supplier<Future<T>> step) {
    Promise<T> done = Promise.promise();
    vertx.runOnContext(nothing -> step.get().onComplete(done));
    return done.future();
  }

  private boolean issues(AtomicLong into) {
    into.set(ids.nextId());
    return into.get() != SnowflakeIds.UNAVAILABLE;
  }

  /** Polls {@code condition} every 10 ms until it holds, failing after {@link #WAIT}. */
  private Future<Void> eventually(String what, BooleanSupplier condition) {
    return poll(what, condition, System.nanoTime() + WAIT.toNanos());
  }

  private Future<Void> poll(String what, BooleanSupplier condition, long deadlineNanos) {
    if (condition.getAsBoolean()) {
      return Future.succeededFuture();
    }
    if (System.nanoTime() - deadlineNanos > 0) {
      return Future.failedFuture(new AssertionError(what + ": did not happen within " + WAIT.toMillis() + " ms"));
    }
    return vertx.timer(10).compose(tick -> poll(what, condition, deadlineNanos));
  }

  /** The embedded store, except that renewals can fail or go unanswered, as with a store that cannot be reached. */
  private static final class Renewals implements WorkerLeaseStore {

    private enum Mode { ANSWER, FAIL, HANG }

    private final WorkerLeaseStore store;
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicInteger unanswered = new AtomicInteger();
    private volatile Mode mode = Mode.ANSWER;

    Renewals(WorkerLeaseStore store) {
      this.store = store;
    }

    void answering() {
      mode = Mode.ANSWER;
    }

    void failing() {
      mode = Mode.FAIL;
    }

    void hanging() {
      mode = Mode.HANG;
    }

    int failed() {
      return failed.get();
    }

    int unanswered() {
      return unanswered.get();
    }

    @Override
    public Future<Integer> acquire(int datacenter, String owner, Duration ttl) {
      return store.acquire(datacenter, owner, ttl);
    }

    @Override
    public Future<Set<String>> liveOwners(int datacenter) {
      return store.liveOwners(datacenter);
    }

    @Override
    public Future<Boolean> renew(int datacenter, int workerId, String owner, Duration ttl) {
      switch (mode) {
        case FAIL:
          failed.incrementAndGet();
          return Future.failedFuture(new IllegalStateException("lease store unreachable"));
        case HANG:
          unanswered.incrementAndGet();
          return Promise.<Boolean>promise().future();
        default:
          return store.renew(datacenter, workerId, owner, ttl);
      }
    }

    @Override
    public Future<Void> release(int datacenter, int workerId, String owner) {
      return store.release(datacenter, workerId, owner);
    }
  }
}
