package io.unbroken.idempotency.pg;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.idempotency.DurableAnswers;
import io.unbroken.idempotency.DurableAnswersContract;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.TestServices;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.BeforeAll;

/** The durable answers contract against the real PostgreSQL, on a fresh database. */
class PgDurableAnswersIT extends DurableAnswersContract {

  private static UnbrokenConfig.Postgres database;

  @BeforeAll
  static void createDatabase() {
    database = TestServices.migratedDatabase(PgDurableAnswersIT.class.getSimpleName());
  }

  @Override
  protected DurableAnswers createAnswers(Vertx vertx) {
    return new PgIdempotencyRecords(PostgresConnector.create(vertx, database));
  }
}
