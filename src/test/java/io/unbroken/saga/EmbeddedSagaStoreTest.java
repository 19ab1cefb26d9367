package io.unbroken.saga;

import io.unbroken.embedded.EmbeddedEventStorage;
import io.unbroken.embedded.EmbeddedSagaStore;
import io.unbroken.events.Stamps;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Vertx;
import java.time.Duration;

/** The saga store contract on the embedded event store's rows, on a clock the test moves. */
class EmbeddedSagaStoreTest extends SagaStoreContract {

  private final ManualClock clock = new ManualClock(System.currentTimeMillis());

  @Override
  protected Stores createStores(Vertx vertx, String testName) {
    SnowflakeIds ids = new SnowflakeIds(clock, 0, 60_000);
    ids.holdWorker(1, Long.MAX_VALUE);
    EmbeddedEventStorage storage = new EmbeddedEventStorage(new Stamps(ids, new HybridLogicalClock(clock, 1_000)), clock);
    return new Stores(storage, new EmbeddedSagaStore(storage, clock));
  }

  @Override
  protected void letTimePass(Duration duration) {
    clock.advance(duration.toMillis());
  }
}
