package io.unbroken.ids;

import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Snowflake ids: 41 bits of milliseconds since 2021-01-01 UTC, 5 bits of datacenter, 5 bits of
 * worker and a 12-bit sequence, unique across nodes as long as no two hold the same worker id.
 *
 * <p>Design: the last issued (timestamp, sequence) pair lives in one {@link AtomicLong}, advanced
 * by compare-and-set, so the generator is lock-free and ids from any number of threads are unique
 * and increasing per thread. When the clock stands still past 4096 ids in a millisecond, or steps
 * back, the generator keeps issuing from its last timestamp, borrowing milliseconds from the
 * future (logical advance) instead of sleeping. It refuses ({@link #UNAVAILABLE}) only when that
 * borrowed lead exceeds {@code maxBackwardMillis}, or when it holds no live worker-id lease; it
 * never throws and never blocks, so a request path can answer 503 and readiness can report why.
 */
public final class SnowflakeIds {

  /** 2021-01-01T00:00:00Z. */
  public static final long EPOCH_MILLIS = 1_609_459_200_000L;
  /** Returned instead of an id when none may be issued; real ids are always positive. */
  public static final long UNAVAILABLE = -1L;
  public static final int MAX_DATACENTER = 31;
  public static final int MAX_WORKER = 31;

  private static final int SEQUENCE_BITS = 12;
  private static final long SEQUENCE_MASK = (1L << SEQUENCE_BITS) - 1;
  private static final int WORKER_SHIFT = SEQUENCE_BITS;
  private static final int DATACENTER_SHIFT = WORKER_SHIFT + 5;
  private static final int TIMESTAMP_SHIFT = DATACENTER_SHIFT + 5;

  private final InstantSource clock;
  // Leases are timed on a monotonic clock: a wall clock stepping back must not stretch a lease past
  // its expiry in the store, where another node may by then hold the same worker id.
  private final LongSupplier leaseClock;
  private final long datacenterBits;
  private final long maxBackwardMillis;
  private final AtomicLong last = new AtomicLong();
  private final LongAdder refused = new LongAdder();
  private volatile long workerBits = -1;
  private volatile long leaseValidUntil = Long.MIN_VALUE;

  public SnowflakeIds(InstantSource clock, int datacenter, long maxBackwardMillis) {
    this(clock, () -> System.nanoTime() / 1_000_000, datacenter, maxBackwardMillis);
  }

  /** @param leaseClock monotonic milliseconds on which worker leases are timed (tests pass their manual clock) */
  public SnowflakeIds(InstantSource clock, LongSupplier leaseClock, int datacenter, long maxBackwardMillis) {
    if (datacenter < 0 || datacenter > MAX_DATACENTER) {
      throw new IllegalArgumentException("datacenter " + datacenter + " is outside 0.." + MAX_DATACENTER);
    }
    this.clock = clock;
    this.leaseClock = leaseClock;
    this.datacenterBits = (long) datacenter << DATACENTER_SHIFT;
    this.maxBackwardMillis = maxBackwardMillis;
  }

  /**
   * Starts (or keeps) issuing with {@code workerId} until {@code validUntilMillis} on the
   * {@link #leaseClockMillis()} scale; the lease keeper moves that time forward on every successful renewal.
   */
  public void holdWorker(int workerId, long validUntilMillis) {
    if (workerId < 0 || workerId > MAX_WORKER) {
      throw new IllegalArgumentException("worker id " + workerId + " is outside 0.." + MAX_WORKER);
    }
    workerBits = (long) workerId << WORKER_SHIFT;
    leaseValidUntil = validUntilMillis;
  }

  /** Now on the scale of {@link #holdWorker}'s {@code validUntilMillis}. */
  public long leaseClockMillis() {
    return leaseClock.getAsLong();
  }

  /** Stops issuing at once: the lease was lost or given back. */
  public void dropWorker() {
    leaseValidUntil = Long.MIN_VALUE;
    workerBits = -1;
  }

  /** The next id, or {@link #UNAVAILABLE}. */
  public long nextId() {
    long nowMillis = clock.millis();
    long worker = workerBits;
    if (worker < 0 || leaseClock.getAsLong() >= leaseValidUntil) {
      refused.increment();
      return UNAVAILABLE;
    }
    long now = nowMillis - EPOCH_MILLIS;
    while (true) {
      long previous = last.get();
      long previousTime = previous >>> SEQUENCE_BITS;
      long next;
      if (now > previousTime) {
        next = now << SEQUENCE_BITS;
      } else {
        // Same millisecond or the clock stepped back: continue from the last timestamp. The bound
        // is checked on the id about to be issued, whose sequence may carry into the next millisecond.
        next = previous + 1;
        if ((next >>> SEQUENCE_BITS) - now > maxBackwardMillis) {
          refused.increment();
          return UNAVAILABLE;
        }
      }
      if (last.compareAndSet(previous, next)) {
        return (next >>> SEQUENCE_BITS) << TIMESTAMP_SHIFT | datacenterBits | worker | (next & SEQUENCE_MASK);
      }
    }
  }

  /** Why no id can be issued now, or null when ids are being issued. */
  public String unavailableReason() {
    long nowMillis = clock.millis();
    if (workerBits < 0) {
      return "no worker id is leased";
    }
    if (leaseClock.getAsLong() >= leaseValidUntil) {
      return "the worker-id lease has not been renewed in time";
    }
    long lead = ((last.get() + 1) >>> SEQUENCE_BITS) - (nowMillis - EPOCH_MILLIS);
    if (lead > maxBackwardMillis) {
      return "the clock stepped back " + lead + " ms, more than the allowed " + maxBackwardMillis + " ms";
    }
    return null;
  }

  /**
   * The wall-clock millisecond of the last id issued; it may be ahead of the clock after a step
   * back. A worker id must not pass to another node before the clock has gone past it.
   */
  public long lastIssuedMillis() {
    return (last.get() >>> SEQUENCE_BITS) + EPOCH_MILLIS;
  }

  /** How many times an id was asked for and refused. */
  public long refusals() {
    return refused.sum();
  }

  public static long timestampMillis(long id) {
    return (id >>> TIMESTAMP_SHIFT) + EPOCH_MILLIS;
  }

  public static int datacenter(long id) {
    return (int) (id >>> DATACENTER_SHIFT) & MAX_DATACENTER;
  }

  public static int worker(long id) {
    return (int) (id >>> WORKER_SHIFT) & MAX_WORKER;
  }

  public static int sequence(long id) {
    return (int) (id & SEQUENCE_MASK);
  }
}
