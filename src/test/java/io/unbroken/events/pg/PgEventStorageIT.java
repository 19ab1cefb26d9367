package io.unbroken.events.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.events.AppendOutcome;
import io.unbroken.events.AppendResult;
import io.unbroken.events.EventStorage;
import io.unbroken.events.EventStorageContract;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.Stamps;
import io.unbroken.events.StreamAppend;
import io.unbroken.events.WrongExpectedVersion;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.unbroken.zombie.InflightRequest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The event storage contract against the real PostgreSQL: one fresh database for the class with
 * the migrations applied and the side table the contract writes to. Events are recorded at their
 * transaction's start, so two appends made one after the other are recorded at different times
 * without the test waiting.
 */
class PgEventStorageIT extends EventStorageContract {

  private static UnbrokenConfig.Postgres database;
  private Pool pool;
  private PgEventStorage storage;

  @BeforeAll
  static void createDatabase() {
    database = TestServices.migratedDatabase(PgEventStorageIT.class.getSimpleName());
    Vertx vertx = Vertx.vertx();
    try {
      Pool setup = PostgresConnector.create(vertx, database);
      Await.result(setup.query("CREATE TABLE " + SIDE_TABLE + " (k text PRIMARY KEY, v text, note text)").execute());
      // As a node does before its first append: this month's partition and the next ones.
      Await.result(storageOn(setup).maintain(Duration.ofDays(30)));
    } finally {
      Await.result(vertx.close());
    }
  }

  @Override
  protected EventStorage createStorage(Vertx vertx) {
    pool = PostgresConnector.create(vertx, database);
    storage = storageOn(pool);
    return storage;
  }

  /**
   * Another node's append that has moved a stream but not yet committed: an append expecting the
   * version it moves to waits for it and then commits, rather than reading the old version and
   * failing with an expectation that names the version it expected.
   */
  @Test
  void anExactExpectationWaitsForAnUncommittedMoveOfItsStream() {
    String stream = "waits-" + UUID.randomUUID();
    Await.result(storage.appendBatch(List.of(StreamAppend.of(stream, ExpectedVersion.NO_STREAM,
        NewEvent.of("A", new JsonObject()), NewEvent.of("B", new JsonObject()), NewEvent.of("C", new JsonObject())))));
    SqlConnection otherNode = Await.result(pool.getConnection());
    try {
      Transaction moving = Await.result(otherNode.begin());
      Await.result(otherNode.preparedQuery("UPDATE streams SET version = 5 WHERE stream_id = $1")
          .execute(Tuple.of(stream)));
      Future<List<AppendOutcome>> waiting = storage.appendBatch(
          List.of(StreamAppend.of(stream, ExpectedVersion.exactly(5), NewEvent.of("F", new JsonObject()))));
      Await.until("the append waits for the uncommitted move", Duration.ofSeconds(10), () -> Await.result(
          pool.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
              + " AND wait_event_type = 'Lock'").execute()).iterator().next().getLong(0) > 0);
      Await.result(moving.commit());
      AppendResult appended = Await.result(Await.result(waiting).get(0).toFuture());
      assertThat(appended.firstVersion()).isEqualTo(6);
    } finally {
      Await.result(otherNode.close());
    }
  }

  /**
   * Streams another node's batch is creating but has not committed: an append to one waits for
   * that batch, then is decided against what it wrote (any version lands after it, no stream
   * fails), while the rest of its own batch commits as usual.
   */
  @Test
  void appendsToStreamsAnotherBatchIsCreatingAreDecidedAfterIt() {
    String suffix = UUID.randomUUID().toString();
    String anyVersion = "created-any-" + suffix;
    String noStream = "created-none-" + suffix;
    String fresh = "fresh-" + suffix;
    SqlConnection otherNode = Await.result(pool.getConnection());
    try {
      Transaction creating = Await.result(otherNode.begin());
      Await.result(otherNode.preparedQuery("INSERT INTO streams (stream_id, version) VALUES ($1, 3), ($2, 3)")
          .execute(Tuple.of(anyVersion, noStream)));
      Future<List<AppendOutcome>> waiting = storage.appendBatch(List.of(
          StreamAppend.of(anyVersion, ExpectedVersion.ANY, NewEvent.of("A", new JsonObject())),
          StreamAppend.of(noStream, ExpectedVersion.NO_STREAM, NewEvent.of("B", new JsonObject())),
          StreamAppend.of(fresh, ExpectedVersion.NO_STREAM, NewEvent.of("C", new JsonObject()))));
      Await.until("the batch waits for the uncommitted streams", Duration.ofSeconds(10), () -> Await.result(
          pool.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
              + " AND wait_event_type = 'Lock'").execute()).iterator().next().getLong(0) > 0);
      Await.result(creating.commit());
      List<AppendOutcome> outcomes = Await.result(waiting);

      assertThat(outcomes.get(0).result().firstVersion()).isEqualTo(4);
      assertThat(outcomes.get(1).failure()).isInstanceOf(WrongExpectedVersion.class)
          .hasMessageContaining("is at version 3");
      assertThat(outcomes.get(2).result().firstVersion()).isEqualTo(1);
      assertThat(Await.result(pool.preparedQuery("SELECT stream_id, version FROM streams WHERE stream_id = ANY($1)"
          + " ORDER BY stream_id").execute(Tuple.of(new String[] {anyVersion, noStream, fresh})))).extracting(
              row -> row.getString(0) + "@" + row.getInteger(1))
          .containsExactly(anyVersion + "@4", noStream + "@3", fresh + "@1");
    } finally {
      Await.result(otherNode.close());
    }
  }

  /**
   * A sync request's in-flight row is kept on its stream's own row: set with its opening events in
   * the same statement, cleared with its terminal event, and no table of its own is written.
   */
  @Test
  void anInflightRowIsAMarkOnItsStreamsRowFromTheOpeningToTheTerminalAppend() {
    String requestId = "marked-" + UUID.randomUUID();
    String stream = RequestLifecycle.streamOf(requestId);
    InflightRequest inflight = new InflightRequest(requestId, "node-a", "/sync", "GET", "/sync/1", "127.0.0.1", "", "",
        Instant.now(), 30_000);
    Await.result(Await.result(storage.appendBatch(List.of(new StreamAppend(stream, ExpectedVersion.NO_STREAM,
        List.of(NewEvent.of(RequestLifecycle.ACCEPTED, new JsonObject()),
            NewEvent.of(RequestLifecycle.FORWARDED, new JsonObject())), List.of(inflight.row()))))).get(0).toFuture());

    Row marked = Await.result(pool.preparedQuery("SELECT inflight ->> 'node' AS node, inflight ->> 'route' AS route,"
        + " (inflight ->> 'started')::timestamptz = touched_at AS started_with_the_append, to_regclass('"
        + RequestLifecycle.INFLIGHT_TABLE + "') IS NULL AS no_table FROM streams WHERE stream_id = $1")
        .execute(Tuple.of(stream))).iterator().next();
    assertThat(marked.getString("node")).isEqualTo("node-a");
    assertThat(marked.getString("route")).isEqualTo("/sync");
    assertThat(marked.getBoolean("started_with_the_append")).isTrue();
    assertThat(marked.getBoolean("no_table")).isTrue();

    Await.result(Await.result(storage.appendBatch(List.of(new StreamAppend(stream, ExpectedVersion.exactly(2),
        List.of(NewEvent.of(RequestLifecycle.COMPLETED, new JsonObject())),
        List.of(InflightRequest.rowRemoval(requestId)))))).get(0).toFuture());
    assertThat(Await.result(pool.preparedQuery("SELECT inflight IS NULL FROM streams WHERE stream_id = $1")
        .execute(Tuple.of(stream))).iterator().next().getBoolean(0)).as("mark cleared").isTrue();
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
