package io.unbroken.ids;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.ids.WorkerLeaseStore.NoWorkerIdAvailable;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What every {@link WorkerLeaseStore} promises, run against each implementation: distinct owners
 * get distinct ids, 32 per datacenter and the lowest free first; only the owner renews or releases;
 * an expired lease goes to another owner and is then lost to the first; the live owners are the
 * holders of unexpired leases; and hundreds of simultaneous acquires never hand one id out twice.
 */
@ExtendWith(VertxExtension.class)
public abstract class WorkerLeaseStoreContract {

  /** Outlives every test, so only the short leases expire while one runs. */
  protected static final Duration LONG_TTL = Duration.ofSeconds(30);
  /** Long enough for the next call to see the lease live, short enough to wait out. */
  protected static final Duration SHORT_TTL = Duration.ofMillis(500);
  /** Outlives the renewal that follows it even in a JVM slowed by a shifted clock, then runs out. */
  private static final Duration RENEWED_TTL = Duration.ofSeconds(2);

  private static final Duration POLL_STEP = Duration.ofMillis(100);
  /** 100 steps of 100 ms: an expired lease must be free again within 10 s of the store's time. */
  private static final int EXPIRY_POLLS = 100;
  private static final List<Integer> ALL_WORKER_IDS =
      IntStream.rangeClosed(0, SnowflakeIds.MAX_WORKER).boxed().toList();

  private WorkerLeaseStore store;

  /** A store with no leases in it; called before every test. */
  protected abstract WorkerLeaseStore createStore(Vertx vertx, String testName);

  /** Lets {@code duration} of the store's time pass: a real store waits it out, a store on a manual clock moves it. */
  protected abstract Future<Void> letTimePass(Duration duration);

  @BeforeEach
  public void createFreshStore(Vertx vertx, TestInfo test) {
    store = createStore(vertx, test.getTestMethod().orElseThrow().getName());
  }

  @Test
  public void distinctOwnersGetDistinctIdsLowestFirst(VertxTestContext testContext) {
    acquireInTurn(1, "owner-", 3)
        .onComplete(testContext.succeeding(ids -> testContext.verify(() -> {
          assertThat(ids).containsExactly(0, 1, 2);
          testContext.completeNow();
        })));
  }

  @Test
  public void thirtyTwoOwnersExhaustADatacenterAndTheNextIsRefused(VertxTestContext testContext) {
    List<Integer> leased = new ArrayList<>();
    acquireInTurn(2, "owner-", ALL_WORKER_IDS.size())
        .onSuccess(leased::addAll)
        .compose(ids -> settled(store.acquire(2, "one-too-many", LONG_TTL)))
        .onComplete(testContext.succeeding(oneTooMany -> testContext.verify(() -> {
          assertThat(leased).containsExactlyElementsOf(ALL_WORKER_IDS);
          assertThat(oneTooMany.failed()).as("the 33rd acquire failed").isTrue();
          assertThat(oneTooMany.cause()).isInstanceOf(NoWorkerIdAvailable.class).hasMessageContaining("datacenter 2");
          testContext.completeNow();
        })));
  }

  @Test
  public void datacentersLeaseIndependently(VertxTestContext testContext) {
    AtomicInteger inOtherDatacenter = new AtomicInteger(-1);
    acquireInTurn(3, "owner-", ALL_WORKER_IDS.size())
        .compose(full -> store.acquire(4, "owner-0", LONG_TTL))
        .onSuccess(inOtherDatacenter::set)
        .compose(id -> store.renew(5, 0, "owner-0", LONG_TTL))
        .onComplete(testContext.succeeding(renewedInUnusedDatacenter -> testContext.verify(() -> {
          assertThat(inOtherDatacenter.get()).isZero();
          assertThat(renewedInUnusedDatacenter).as("renewal in a datacenter never leased").isFalse();
          testContext.completeNow();
        })));
  }

  @Test
  public void theOwnerRenewsAndNoOneElseCan(VertxTestContext testContext) {
    AtomicInteger held = new AtomicInteger(-1);
    List<Boolean> renewals = new ArrayList<>();
    store.acquire(6, "owner", LONG_TTL)
        .onSuccess(held::set)
        .compose(id -> store.renew(6, id, "owner", LONG_TTL))
        .onSuccess(renewals::add)
        .compose(renewed -> store.renew(6, held.get(), "other", LONG_TTL))
        .onSuccess(renewals::add)
        .compose(renewed -> store.renew(6, held.get() + 1, "owner", LONG_TTL))
        .onSuccess(renewals::add)
        .compose(renewed -> store.renew(6, held.get(), "owner", LONG_TTL))
        .onSuccess(renewals::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(renewals).as("owner, other owner, id never leased, owner again")
              .containsExactly(true, false, false, true);
          testContext.completeNow();
        })));
  }

  @Test
  public void renewalExtendsTheLease(VertxTestContext testContext) {
    AtomicInteger held = new AtomicInteger(-1);
    store.acquire(7, "owner", RENEWED_TTL)
        .onSuccess(held::set)
        .compose(id -> store.renew(7, id, "owner", LONG_TTL))
        .onSuccess(renewed -> testContext.verify(() -> assertThat(renewed).as("renewed while held").isTrue()))
        .compose(renewed -> letTimePass(RENEWED_TTL.plus(SHORT_TTL)))
        .compose(waited -> store.acquire(7, "other", LONG_TTL))
        .onComplete(testContext.succeeding(other -> testContext.verify(() -> {
          assertThat(other).as("id leased to another owner").isNotEqualTo(held.get());
          testContext.completeNow();
        })));
  }

  @Test
  public void releaseByAnotherOwnerDoesNothingAndByTheOwnerFreesTheId(VertxTestContext testContext) {
    AtomicInteger held = new AtomicInteger(-1);
    AtomicInteger whileHeld = new AtomicInteger(-1);
    store.acquire(8, "owner", LONG_TTL)
        .onSuccess(held::set)
        .compose(id -> store.release(8, id, "other"))
        .compose(released -> store.release(8, SnowflakeIds.MAX_WORKER, "nobody"))
        .compose(released -> store.acquire(8, "second", LONG_TTL))
        .onSuccess(whileHeld::set)
        .compose(id -> store.release(8, held.get(), "owner"))
        .compose(released -> store.acquire(8, "third", LONG_TTL))
        .onComplete(testContext.succeeding(afterRelease -> testContext.verify(() -> {
          assertThat(whileHeld.get()).as("id leased while the owner held it").isNotEqualTo(held.get());
          assertThat(afterRelease).as("id leased after the owner released it").isEqualTo(held.get());
          testContext.completeNow();
        })));
  }

  @Test
  public void anExpiredLeaseGoesToAnotherOwnerAndIsLostToTheFirst(VertxTestContext testContext) {
    AtomicInteger expiring = new AtomicInteger(-1);
    AtomicInteger whileLive = new AtomicInteger(-1);
    AtomicBoolean renewedByFirst = new AtomicBoolean(true);
    store.acquire(9, "first", SHORT_TTL)
        .onSuccess(expiring::set)
        .compose(id -> store.acquire(9, "second", LONG_TTL))
        .onSuccess(whileLive::set)
        .compose(id -> acquireWhenFree(9, expiring.get(), "taker", EXPIRY_POLLS))
        .compose(taken -> store.renew(9, expiring.get(), "first", LONG_TTL))
        .onSuccess(renewedByFirst::set)
        .compose(renewed -> store.release(9, expiring.get(), "first"))
        .compose(released -> store.renew(9, expiring.get(), "taker", LONG_TTL))
        .onComplete(testContext.succeeding(renewedByTaker -> testContext.verify(() -> {
          assertThat(whileLive.get()).as("id leased while the short lease was live").isNotEqualTo(expiring.get());
          assertThat(renewedByFirst.get()).as("renewal by the first owner after the takeover").isFalse();
          assertThat(renewedByTaker).as("renewal by the taker after the first owner's release").isTrue();
          testContext.completeNow();
        })));
  }

  @Test
  public void liveOwnersAreTheHoldersOfUnexpiredLeasesOfTheDatacenter(VertxTestContext testContext) {
    store.acquire(12, "alive", LONG_TTL)
        .compose(id -> store.acquire(12, "dying", SHORT_TTL))
        .compose(id -> store.acquire(12, "leaving", LONG_TTL))
        .compose(id -> store.release(12, id, "leaving"))
        .compose(gone -> store.acquire(13, "elsewhere", LONG_TTL))
        .compose(id -> letTimePass(SHORT_TTL.multipliedBy(3)))
        .compose(waited -> store.liveOwners(12))
        .onComplete(testContext.succeeding(owners -> testContext.verify(() -> {
          assertThat(owners).as("live owners of datacenter 12 once the short lease ran out").containsExactly("alive");
          testContext.completeNow();
        })));
  }

  @Test
  public void twoHundredSimultaneousAcquiresNeverShareAnId(VertxTestContext testContext) {
    int callers = 200;
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService threads = Executors.newFixedThreadPool(8);
    List<Future<Integer>> results = new ArrayList<>();
    for (int i = 0; i < callers; i++) {
      Promise<Integer> result = Promise.promise();
      results.add(result.future());
      String owner = "owner-" + i;
      threads.execute(() -> acquireOnSignal(go, 10, owner, result));
    }
    go.countDown();
    threads.shutdown();

    Future.join(results).onComplete(all -> testContext.verify(() -> {
      List<Integer> leased = results.stream().filter(Future::succeeded).map(Future::result).toList();
      List<Throwable> refused = results.stream().filter(Future::failed).map(Future::cause).toList();
      assertThat(leased).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(ALL_WORKER_IDS);
      assertThat(refused).hasSize(callers - ALL_WORKER_IDS.size())
          .allSatisfy(cause -> assertThat(cause).isInstanceOf(NoWorkerIdAvailable.class));
      testContext.completeNow();
    }));
  }

  private void acquireOnSignal(CountDownLatch go, int datacenter, String owner, Promise<Integer> result) {
    try {
      go.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      result.fail(e);
      return;
    }
    store.acquire(datacenter, owner, LONG_TTL).onComplete(result);
  }

  /** Owners {@code prefix0, prefix1, ...} acquire one after another; the ids in that order. */
  private Future<List<Integer>> acquireInTurn(int datacenter, String ownerPrefix, int owners) {
    Future<List<Integer>> chain = Future.succeededFuture(new ArrayList<>());
    for (int i = 0; i < owners; i++) {
      String owner = ownerPrefix + i;
      chain = chain.compose(ids -> acquireInto(ids, datacenter, owner));
    }
    return chain;
  }

  private Future<List<Integer>> acquireInto(List<Integer> ids, int datacenter, String owner) {
    return store.acquire(datacenter, owner, LONG_TTL).map(id -> {
      ids.add(id);
      return ids;
    });
  }

  /**
   * Polls until {@code owner} is given {@code wanted}; every other id it gets is given back at
   * once, so each poll is offered the lowest free id again.
   */
  private Future<Integer> acquireWhenFree(int datacenter, int wanted, String owner, int pollsLeft) {
    return store.acquire(datacenter, owner, LONG_TTL)
        .compose(got -> got == wanted
            ? Future.succeededFuture(got)
            : giveBackAndPollAgain(datacenter, wanted, owner, got, pollsLeft));
  }

  private Future<Integer> giveBackAndPollAgain(int datacenter, int wanted, String owner, int got, int pollsLeft) {
    if (pollsLeft == 0) {
      return Future.failedFuture(new AssertionError("worker id " + wanted + " of datacenter " + datacenter
          + " was not free again after " + EXPIRY_POLLS + " polls " + POLL_STEP.toMillis() + " ms apart"));
    }
    return store.release(datacenter, got, owner)
        .compose(released -> letTimePass(POLL_STEP))
        .compose(waited -> acquireWhenFree(datacenter, wanted, owner, pollsLeft - 1));
  }

  /** Succeeds with the outcome, so a test can look at a failure it expects. */
  private static <T> Future<AsyncResult<T>> settled(Future<T> future) {
    return future.transform(Future::succeededFuture);
  }
}
