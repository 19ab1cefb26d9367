package io.unbroken.idempotency.pg;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.ClaimStoreContract;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.TestServices;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.BeforeAll;

/** The claim store contract against the real PostgreSQL (the fallback while Redis is away), on a fresh database. */
class PgIdempotencyRecordsIT extends ClaimStoreContract {

  private static UnbrokenConfig.Postgres database;

  @BeforeAll
  static void createDatabase() {
    database = TestServices.migratedDatabase(PgIdempotencyRecordsIT.class.getSimpleName());
  }

  @Override
  protected ClaimStore createStore(Vertx vertx) {
    return new PgIdempotencyRecords(PostgresConnector.create(vertx, database));
  }
}
