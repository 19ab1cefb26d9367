package io.unbroken.zombie;

import io.unbroken.embedded.EmbeddedEventStorage;
import io.unbroken.embedded.EmbeddedOrphanedRequests;
import io.unbroken.embedded.EmbeddedWorkerLeaseStore;
import io.unbroken.events.Stamps;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Vertx;
import java.time.Duration;

/** The orphan contract in process, on a clock the test moves. */
class EmbeddedOrphanedRequestsTest extends OrphanedRequestsContract {

  private final ManualClock clock = new ManualClock(System.currentTimeMillis());

  @Override
  protected Stores createStores(Vertx vertx, String testName) {
    SnowflakeIds ids = new SnowflakeIds(clock, 0, 60_000);
    ids.holdWorker(1, Long.MAX_VALUE);
    EmbeddedEventStorage events = new EmbeddedEventStorage(new Stamps(ids, new HybridLogicalClock(clock, 1_000)), clock);
    EmbeddedWorkerLeaseStore leases = new EmbeddedWorkerLeaseStore(clock);
    return new Stores(events, leases, new EmbeddedOrphanedRequests(events, leases, clock));
  }

  @Override
  protected void letTimePass(Duration duration) {
    clock.advance(duration.toMillis());
  }
}
