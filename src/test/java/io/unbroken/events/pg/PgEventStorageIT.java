package io.unbroken.events.pg;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.events.EventStorage;
import io.unbroken.events.EventStorageContract;
import io.unbroken.events.Stamps;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The event storage contract against the real PostgreSQL: one fresh database for the class with
 * the migrations applied and the side table the contract writes to. Events are recorded at their
 * transaction's start, so two appends made one after the other are recorded at different times
 * without the test waiting.
 */
class PgEventStorageIT extends EventStorageContract {

  private static UnbrokenConfig.Postgres database;
  private Pool pool;

  @BeforeAll
  static void createDatabase() {
    database = TestServices.migratedDatabase(PgEventStorageIT.class.getSimpleName());
    Vertx vertx = Vertx.vertx();
    try {
      Pool setup = PostgresConnector.create(vertx, database);
      Await.result(setup.query("CREATE TABLE " + SIDE_TABLE + " (k text PRIMARY KEY, v text, note text)").execute());
      // As a node does before its first append: this month's partition and the next ones.
      Await.result(storageOn(setup).maintain(Instant.now(), Duration.ofDays(30)));
    } finally {
      Await.result(vertx.close());
    }
  }

  @Override
  protected EventStorage createStorage(Vertx vertx) {
    pool = PostgresConnector.create(vertx, database);
    return storageOn(pool);
  }

  private static PgEventStorage storageOn(Pool pool) {
    SnowflakeIds ids = new SnowflakeIds(InstantSource.system(), 0, 5_000);
    ids.holdWorker(1, Long.MAX_VALUE);
    return new PgEventStorage(pool, new Stamps(ids, new HybridLogicalClock(InstantSource.system(), 1_000)));
  }

  @Override
  protected Future<Optional<Map<String, String>>> sideRow(String k) {
    return pool.preparedQuery("SELECT v, note FROM " + SIDE_TABLE + " WHERE k = $1").execute(Tuple.of(k))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(notNull(rows.iterator().next())));
  }

  private static Map<String, String> notNull(Row row) {
    Map<String, String> columns = new HashMap<>();
    for (String column : List.of("v", "note")) {
      if (row.getString(column) != null) {
        columns.put(column, row.getString(column));
      }
    }
    return columns;
  }

  @Override
  protected Future<Void> letTimePass() {
    return Future.succeededFuture();
  }

  @AfterEach
  void closePool() {
    Await.result(pool.close());
  }
}
