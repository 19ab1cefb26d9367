package io.unbroken.events;

import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;

/** Gives each appended event its Snowflake id and hybrid logical clock value. */
public final class Stamps {

  private final SnowflakeIds ids;
  private final HybridLogicalClock clock;

  public Stamps(SnowflakeIds ids, HybridLogicalClock clock) {
    this.ids = ids;
    this.clock = clock;
  }

  /** @throws IllegalStateException when this node may not issue ids now (no worker lease, clock far back) */
  public long nextId() {
    long id = ids.nextId();
    if (id == SnowflakeIds.UNAVAILABLE) {
      throw new IllegalStateException("no event id can be issued: " + ids.unavailableReason());
    }
    return id;
  }

  public long hlc() {
    return clock.now();
  }
}
