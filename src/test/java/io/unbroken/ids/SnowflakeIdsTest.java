package io.unbroken.ids;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.unbroken.testing.ManualClock;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SnowflakeIdsTest {

  private static final long MAX_BACKWARD_MILLIS = 5_000;
  private static final int DATACENTER = 3;
  private static final int WORKER = 17;
  private static final int IDS_PER_MILLISECOND = 4096;

  private final ManualClock clock = ManualClock.at("2025-06-01T12:00:00Z");
  private final SnowflakeIds ids = new SnowflakeIds(clock, clock::millis, DATACENTER, MAX_BACKWARD_MILLIS);

  @BeforeEach
  void holdWorkerForAnHour() {
    ids.holdWorker(WORKER, clock.millis() + TimeUnit.HOURS.toMillis(1));
  }

  @Test
  void anIdIsMillisecondsSinceTheEpochThenDatacenterThenWorkerThenSequence() {
    long first = ids.nextId();
    long second = ids.nextId();

    long millisSinceEpoch = clock.millis() - SnowflakeIds.EPOCH_MILLIS;
    assertThat(first).isEqualTo(millisSinceEpoch << 22 | (long) DATACENTER << 17 | (long) WORKER << 12);
    assertThat(second).isEqualTo(first + 1);
    assertThat(SnowflakeIds.timestampMillis(second)).isEqualTo(clock.millis());
    assertThat(SnowflakeIds.datacenter(second)).isEqualTo(DATACENTER);
    assertThat(SnowflakeIds.worker(second)).isEqualTo(WORKER);
    assertThat(SnowflakeIds.sequence(second)).isEqualTo(1);
  }

  @Test
  void theHighestDatacenterAndWorkerDecodeBackWithoutTouchingNeighbouringFields() {
    SnowflakeIds highest = new SnowflakeIds(clock, clock::millis, SnowflakeIds.MAX_DATACENTER, MAX_BACKWARD_MILLIS);
    highest.holdWorker(SnowflakeIds.MAX_WORKER, clock.millis() + 1_000);

    long id = highest.nextId();

    assertThat(id).isPositive();
    assertThat(SnowflakeIds.timestampMillis(id)).isEqualTo(clock.millis());
    assertThat(SnowflakeIds.datacenter(id)).isEqualTo(31);
    assertThat(SnowflakeIds.worker(id)).isEqualTo(31);
    assertThat(SnowflakeIds.sequence(id)).isZero();
  }

  @Test
  void aNewMillisecondStartsTheSequenceAgain() {
    issue(10);
    clock.advance(1);

    long id = ids.nextId();

    assertThat(SnowflakeIds.timestampMillis(id)).isEqualTo(clock.millis());
    assertThat(SnowflakeIds.sequence(id)).isZero();
  }

  @Test
  void datacenterAndWorkerOutsideFiveBitsAreRejected() {
    assertThatThrownBy(() -> new SnowflakeIds(clock, clock::millis, 32, MAX_BACKWARD_MILLIS))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("datacenter 32");
    assertThatThrownBy(() -> new SnowflakeIds(clock, clock::millis, -1, MAX_BACKWARD_MILLIS))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("datacenter -1");
    assertThatThrownBy(() -> ids.holdWorker(32, clock.millis() + 1_000))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("worker id 32");
  }

  @Test
  void aClockSteppingBackOneMillisecondKeepsIdsIncreasing() {
    long lastBefore = last(issue(10));
    long stoodAt = clock.millis();
    clock.advance(-1);

    long[] after = issue(1_000);

    assertStrictlyIncreasingFrom(lastBefore, after);
    assertThat(SnowflakeIds.timestampMillis(after[0])).isEqualTo(stoodAt);
    assertThat(ids.unavailableReason()).isNull();
  }

  @Test
  void aClockSteppingBackOneSecondKeepsIdsIncreasingUntilItCatchesUp() {
    long lastBefore = last(issue(10));
    long stoodAt = clock.millis();
    clock.advance(-1_000);

    long[] whileBehind = issue(1_000);
    assertStrictlyIncreasingFrom(lastBefore, whileBehind);
    assertThat(ids.unavailableReason()).isNull();

    clock.set(stoodAt + 1);
    long caughtUp = ids.nextId();
    assertThat(caughtUp).isGreaterThan(last(whileBehind));
    assertThat(SnowflakeIds.timestampMillis(caughtUp)).isEqualTo(stoodAt + 1);
    assertThat(SnowflakeIds.sequence(caughtUp)).isZero();
  }

  @Test
  void aClockSteppingBackExactlyTheBoundStillIssues() {
    long lastBefore = ids.nextId();
    clock.advance(-MAX_BACKWARD_MILLIS);

    assertThat(ids.nextId()).isGreaterThan(lastBefore);
    assertThat(ids.unavailableReason()).isNull();
  }

  @Test
  void aClockSteppingBackFurtherThanTheBoundIsRefusedAndSaysWhy() {
    ids.nextId();
    clock.advance(-MAX_BACKWARD_MILLIS - 1);

    assertThat(ids.nextId()).isEqualTo(SnowflakeIds.UNAVAILABLE);
    assertThat(ids.nextId()).isEqualTo(SnowflakeIds.UNAVAILABLE);
    assertThat(ids.refusals()).isEqualTo(2);
    assertThat(ids.unavailableReason())
        .contains("stepped back " + (MAX_BACKWARD_MILLIS + 1) + " ms")
        .contains("allowed " + MAX_BACKWARD_MILLIS + " ms");
  }

  @Test
  void issuingResumesWhenTheClockCatchesUpAfterARefusal() {
    long lastBefore = last(issue(10));
    long stoodAt = clock.millis();
    clock.advance(-60_000);
    assertThat(ids.nextId()).isEqualTo(SnowflakeIds.UNAVAILABLE);

    clock.set(stoodAt - MAX_BACKWARD_MILLIS + 1);
    long backWithinBound = ids.nextId();
    clock.set(stoodAt + 1);
    long caughtUp = ids.nextId();

    assertThat(backWithinBound).isGreaterThan(lastBefore);
    assertThat(caughtUp).isGreaterThan(backWithinBound);
    assertThat(SnowflakeIds.timestampMillis(caughtUp)).isEqualTo(stoodAt + 1);
    assertThat(ids.unavailableReason()).isNull();
    assertThat(ids.refusals()).isEqualTo(1);
  }

  @Test
  void moreThan4096IdsInOneFrozenMillisecondBorrowTheNextMillisecondsWithoutWaiting() {
    long frozenAt = clock.millis();

    long[] burst = issue(10_000);

    assertStrictlyIncreasingFrom(0, burst);
    assertThat(SnowflakeIds.timestampMillis(burst[0])).isEqualTo(frozenAt);
    assertThat(SnowflakeIds.timestampMillis(burst[IDS_PER_MILLISECOND - 1])).isEqualTo(frozenAt);
    assertThat(SnowflakeIds.sequence(burst[IDS_PER_MILLISECOND - 1])).isEqualTo(IDS_PER_MILLISECOND - 1);
    assertThat(SnowflakeIds.timestampMillis(burst[IDS_PER_MILLISECOND])).isEqualTo(frozenAt + 1);
    assertThat(SnowflakeIds.sequence(burst[IDS_PER_MILLISECOND])).isZero();
    assertThat(SnowflakeIds.timestampMillis(last(burst))).isEqualTo(frozenAt + 2);
    assertThat(ids.unavailableReason()).isNull();
  }

  @Test
  void borrowedMillisecondsNeverRunFurtherAheadOfTheClockThanTheBound() {
    long boundMillis = 2;
    SnowflakeIds small = new SnowflakeIds(clock, clock::millis, DATACENTER, boundMillis);
    small.holdWorker(WORKER, clock.millis() + 1_000);
    long frozenAt = clock.millis();

    int issued = 0;
    long maxLead = 0;
    long lastIssued = 0;
    long id;
    while ((id = small.nextId()) != SnowflakeIds.UNAVAILABLE && issued <= 10 * IDS_PER_MILLISECOND) {
      issued++;
      maxLead = Math.max(maxLead, SnowflakeIds.timestampMillis(id) - frozenAt);
      lastIssued = id;
    }

    assertThat(id).as("the id after %d were issued", issued).isEqualTo(SnowflakeIds.UNAVAILABLE);
    assertThat(maxLead).as("most milliseconds an id ran ahead of the clock").isEqualTo(boundMillis);
    assertThat(issued).isEqualTo((int) (boundMillis + 1) * IDS_PER_MILLISECOND);
    assertThat(small.unavailableReason()).as("reason while refusing").isNotNull();

    clock.advance(1);
    long next = small.nextId();
    assertThat(next).isGreaterThan(lastIssued);
    assertThat(SnowflakeIds.timestampMillis(next) - clock.millis()).isLessThanOrEqualTo(boundMillis);
  }

  @Test
  void noWorkerIdMeansNoIds() {
    SnowflakeIds withoutWorker = new SnowflakeIds(clock, clock::millis, DATACENTER, MAX_BACKWARD_MILLIS);

    assertThat(withoutWorker.nextId()).isEqualTo(SnowflakeIds.UNAVAILABLE);
    assertThat(withoutWorker.unavailableReason()).isEqualTo("no worker id is leased");
    assertThat(withoutWorker.refusals()).isEqualTo(1);
  }

  @Test
  void idsStopWhenTheLeaseDeadlinePassesAndResumeWhenItIsMovedOn() {
    long validUntil = clock.millis() + 2_000;
    ids.holdWorker(WORKER, validUntil);

    clock.set(validUntil - 1);
    long lastValid = ids.nextId();
    clock.set(validUntil);

    assertThat(lastValid).isPositive();
    assertThat(ids.nextId()).isEqualTo(SnowflakeIds.UNAVAILABLE);
    assertThat(ids.unavailableReason()).isEqualTo("the worker-id lease has not been renewed in time");

    ids.holdWorker(WORKER, validUntil + 2_000);
    assertThat(ids.nextId()).isGreaterThan(lastValid);
    assertThat(ids.unavailableReason()).isNull();
  }

  @Test
  void droppingTheWorkerStopsIdsAtOnce() {
    assertThat(ids.nextId()).isPositive();

    ids.dropWorker();

    assertThat(ids.nextId()).isEqualTo(SnowflakeIds.UNAVAILABLE);
    assertThat(ids.unavailableReason()).isEqualTo("no worker id is leased");
  }

  @Test
  void eightThreadsTakingAMillionIdsEachGetUniqueIdsIncreasingPerThread() throws Exception {
    int threads = 8;
    int perThread = 1_000_000;
    // The real clock; a generous bound so that running ahead of 4096 ids/ms is never refused here.
    SnowflakeIds shared = new SnowflakeIds(InstantSource.system(), DATACENTER, TimeUnit.HOURS.toMillis(1));
    shared.holdWorker(WORKER, System.currentTimeMillis() + TimeUnit.HOURS.toMillis(1));
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<long[]>> takers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        takers.add(pool.submit(() -> take(shared, perThread, start)));
      }
      start.countDown();

      long[] all = new long[threads * perThread];
      for (int t = 0; t < threads; t++) {
        long[] taken = takers.get(t).get(2, TimeUnit.MINUTES);
        assertStrictlyIncreasingFrom(0, taken);
        System.arraycopy(taken, 0, all, t * perThread, perThread);
      }
      Arrays.sort(all);
      for (int i = 1; i < all.length; i++) {
        if (all[i] == all[i - 1]) {
          throw new AssertionError("id " + all[i] + " was issued twice");
        }
      }
      assertThat(SnowflakeIds.worker(all[0])).isEqualTo(WORKER);
      assertThat(SnowflakeIds.worker(all[all.length - 1])).isEqualTo(WORKER);
      assertThat(shared.refusals()).isZero();
    } finally {
      pool.shutdownNow();
    }
  }

  private static long[] take(SnowflakeIds generator, int count, CountDownLatch start) throws InterruptedException {
    long[] taken = new long[count];
    start.await();
    for (int i = 0; i < count; i++) {
      taken[i] = generator.nextId();
    }
    return taken;
  }

  private long[] issue(int count) {
    long[] issued = new long[count];
    for (int i = 0; i < count; i++) {
      issued[i] = ids.nextId();
      assertThat(issued[i]).as("id %d of %d", i, count).isNotEqualTo(SnowflakeIds.UNAVAILABLE);
    }
    return issued;
  }

  private static long last(long[] issued) {
    return issued[issued.length - 1];
  }

  // A plain loop: AssertJ over millions of elements would box every one of them.
  private static void assertStrictlyIncreasingFrom(long previous, long[] issued) {
    for (int i = 0; i < issued.length; i++) {
      if (issued[i] <= previous) {
        throw new AssertionError("id " + i + " (" + issued[i] + ") is not above the one before (" + previous + ")");
      }
      previous = issued[i];
    }
  }
}
