package io.unbroken.ids;

import java.time.InstantSource;
import java.util.concurrent.atomic.LongAdder;

/**
 * A hybrid logical clock: values are physical milliseconds (upper 48 bits) and a logical counter
 * (lower 16 bits). Values from this clock only grow, and a value received from a peer moves this
 * clock past it, so an event always orders after the events that caused it even when wall clocks
 * disagree. A peer further ahead than {@code maxOffsetMillis} is counted and not followed, so one
 * node with a wrong clock cannot drag the cluster's timestamps into the future.
 */
public final class HybridLogicalClock {

  private static final int LOGICAL_BITS = 16;
  private static final long LOGICAL_MASK = (1L << LOGICAL_BITS) - 1;

  private final InstantSource clock;
  private final long maxOffsetMillis;
  private final LongAdder rejectedPeers = new LongAdder();
  private long last;

  public HybridLogicalClock(InstantSource clock, long maxOffsetMillis) {
    this.clock = clock;
    this.maxOffsetMillis = maxOffsetMillis;
  }

  /** A value for a local event or an outgoing message. */
  public synchronized long now() {
    long physical = clock.millis() << LOGICAL_BITS;
    last = physical > last ? physical : last + 1;
    return last;
  }

  /**
   * Merges a value received from a peer and returns the value for the receive event. Returns
   * {@link #now()} unchanged when the peer is further ahead than the allowed offset.
   */
  public synchronized long receive(long peerValue) {
    long wall = clock.millis();
    if (physicalMillis(peerValue) - wall > maxOffsetMillis) {
      rejectedPeers.increment();
      return now();
    }
    long physical = wall << LOGICAL_BITS;
    long highest = Math.max(last, peerValue);
    last = physical > highest ? physical : highest + 1;
    return last;
  }

  /** How many peer values were ignored for being too far ahead. */
  public long rejectedPeers() {
    return rejectedPeers.sum();
  }

  public static long physicalMillis(long value) {
    return value >>> LOGICAL_BITS;
  }

  public static int logical(long value) {
    return (int) (value & LOGICAL_MASK);
  }
}
