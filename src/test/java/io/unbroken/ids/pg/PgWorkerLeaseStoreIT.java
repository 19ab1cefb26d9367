package io.unbroken.ids.pg;

import io.unbroken.ids.WorkerLeaseStore;
import io.unbroken.ids.WorkerLeaseStoreContract;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;

/** The lease contract against the real PostgreSQL, each test on a fresh database of its own. */
class PgWorkerLeaseStoreIT extends WorkerLeaseStoreContract {

  private Vertx vertx;

  @Override
  protected WorkerLeaseStore createStore(Vertx vertx, String testName) {
    this.vertx = vertx;
    return new PgWorkerLeaseStore(PostgresConnector.create(vertx,
        TestServices.migratedDatabase("leases_" + testName.replaceAll("\\W", "_"))));
  }

  @Override
  protected Future<Void> letTimePass(Duration duration) {
    return vertx.timer(duration.toMillis()).mapEmpty();
  }
}
