package io.unbroken.saga.pg;

import io.unbroken.events.Stamps;
import io.unbroken.events.pg.PgEventStorage;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.saga.SagaStoreContract;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.time.InstantSource;

/** The saga store contract against the real PostgreSQL, each test on a fresh database. */
class PgSagaStoreIT extends SagaStoreContract {

  @Override
  protected Stores createStores(Vertx vertx, String testName) {
    Pool pool = PostgresConnector.create(vertx,
        TestServices.migratedDatabase("sagas_" + testName.replaceAll("\\W", "_")));
    SnowflakeIds ids = new SnowflakeIds(InstantSource.system(), 0, 5_000);
    ids.holdWorker(1, Long.MAX_VALUE);
    return new Stores(new PgEventStorage(pool, new Stamps(ids, new HybridLogicalClock(InstantSource.system(), 1_000))),
        new PgSagaStore(pool));
  }

  @Override
  protected void letTimePass(Duration duration) {
    Await.pause(duration);
  }
}
