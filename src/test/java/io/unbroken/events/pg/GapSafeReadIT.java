package io.unbroken.events.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.events.GlobalCheckpoint;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.Stamps;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * {@link PgEventStorage#readAll} never skips an event whose transaction commits late.
 *
 * <p>Writers hold transactions open on their own connections and commit out of order, with rows
 * in exactly the shape the storage writes (the {@code tx_id} and {@code global_position} defaults
 * included); a reader pages through the global order from its last checkpoint the whole time. A
 * transaction takes its id at its first write and its positions at its inserts, so an early
 * transaction can commit after later ones: a reader that passed over it would never come back.
 *
 * <p>Transaction ids are global to the server, so a transaction of anyone else on it holds the
 * reader back too; every wait for the reader to catch up polls with a generous deadline.
 */
class GapSafeReadIT {

  private static final int WRITERS = 8;
  private static final Duration CATCH_UP = Duration.ofSeconds(60);
  private static final AtomicLong EVENT_IDS = new AtomicLong(1);

  private static UnbrokenConfig.Postgres database;

  private Vertx vertx;
  private Pool pool;
  private PgEventStorage storage;
  private String prefix;

  @BeforeAll
  static void createDatabase() {
    database = TestServices.migratedDatabase(GapSafeReadIT.class.getSimpleName());
  }

  @BeforeEach
  void connect(TestInfo test) {
    vertx = Vertx.vertx();
    // One connection per writer, one for the reader, and some to spare.
    pool = PostgresConnector.create(vertx, new UnbrokenConfig.Postgres(database.url(), WRITERS + 4));
    SnowflakeIds ids = new SnowflakeIds(InstantSource.system(), 0, 5_000);
    ids.holdWorker(1, Long.MAX_VALUE);
    storage = new PgEventStorage(pool, new Stamps(ids, new HybridLogicalClock(InstantSource.system(), 1_000)));
    // As a node does before its first append: this month's partition and the next ones.
    Await.result(storage.maintain(Duration.ofDays(30)));
    prefix = test.getTestMethod().orElseThrow().getName() + "-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  }

  @AfterEach
  void close() {
    Await.result(vertx.close());
  }

  @Test
  void aReaderWaitsForEveryEarlierTransactionAndThenSeesEachEventOnceInOrder() {
    List<OpenTransaction> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      OpenTransaction writer = Await.result(OpenTransaction.begin(pool));
      Await.result(writer.takeTransactionId());
      writers.add(writer);
    }
    assertThat(writers).extracting(OpenTransaction::transactionId).as("transaction ids in the order taken")
        .isSortedAccordingTo(Comparator.naturalOrder()).doesNotHaveDuplicates();
    // Insert in the reverse order: the earliest transaction gets the highest positions.
    for (int w = WRITERS - 1; w >= 0; w--) {
      Await.result(writers.get(w).insert(prefix + "writer-" + w, 2));
    }
    assertThat(writers.get(0).positions().get(0)).as("the first transaction's position")
        .isGreaterThan(writers.get(WRITERS - 1).positions().get(1));

    Reader reader = Reader.start(vertx, storage, 3);
    List<Integer> commitOrder = List.of(6, 1, 3, 0, 7, 2, 5, 4);
    Set<Integer> committed = new TreeSet<>();
    for (int w : commitOrder) {
      Await.result(writers.get(w).commit());
      committed.add(w);
      // The read after the next one starts after this commit.
      int readsAfterCommit = reader.reads();
      // Visible now: the committed transactions below the oldest one still open.
      int oldestOpen = IntStream.range(0, WRITERS).filter(i -> !committed.contains(i)).findFirst().orElse(WRITERS);
      List<Long> expected = IntStream.range(0, oldestOpen).boxed()
          .flatMap(i -> writers.get(i).eventIds().stream()).toList();
      Await.until("the reader has read again and caught up with writers 0.." + (oldestOpen - 1)
          + " after writer " + w + " committed", CATCH_UP,
          () -> reader.reads() >= readsAfterCommit + 2 && reader.idsOf(prefix).containsAll(expected));
      assertThat(reader.idsOf(prefix)).as("what the reader has seen after writers %s committed", committed)
          .containsExactlyElementsOf(expected);
    }

    reader.stop();
    assertThat(reader.failure()).isNull();
    assertThat(reader.idsOf(prefix)).as("every event, in transaction order").containsExactlyElementsOf(
        writers.stream().flatMap(writer -> writer.eventIds().stream()).toList());
    assertStrictlyIncreasing(reader.seen());
  }

  @Test
  void orderingByInsertPositionAloneWouldSkipALateCommit() {
    OpenTransaction early = Await.result(OpenTransaction.begin(pool));
    Await.result(early.insert(prefix + "early", 1));
    OpenTransaction late = Await.result(OpenTransaction.begin(pool));
    Await.result(late.insert(prefix + "late", 1));
    Await.result(late.commit());

    Reader reader = Reader.start(vertx, storage, 10);
    List<Long> naive = new ArrayList<>();
    long naiveCheckpoint = Await.result(readByPosition(0, naive));
    assertThat(naive).as("a reader by position sees the later commit at once")
        .containsExactlyElementsOf(late.eventIds());
    int readsBefore = reader.reads();
    Await.until("the gap-safe reader has read twice more", CATCH_UP, () -> reader.reads() >= readsBefore + 2);
    assertThat(reader.idsOf(prefix)).as("the gap-safe reader while the early transaction is open").isEmpty();

    Await.result(early.commit());
    Await.until("the gap-safe reader has seen both transactions", CATCH_UP,
        () -> reader.idsOf(prefix).size() >= 2);
    Await.result(readByPosition(naiveCheckpoint, naive));
    reader.stop();

    assertThat(early.positions().get(0)).isLessThan(late.positions().get(0));
    assertThat(naive).as("the reader by position, which passed the early position before it committed")
        .containsExactlyElementsOf(late.eventIds()).doesNotContainAnyElementsOf(early.eventIds());
    assertThat(reader.idsOf(prefix)).as("the gap-safe reader")
        .containsExactly(early.eventIds().get(0), late.eventIds().get(0));
    assertThat(reader.failure()).isNull();
  }

  @Test
  void randomlyDelayedCommitsAreAllSeenExactlyOnce() {
    int transactionsPerWriter = 25;
    long seed = System.nanoTime();
    Set<Long> committed = ConcurrentHashMap.newKeySet();
    Set<Long> rolledBack = ConcurrentHashMap.newKeySet();
    Reader reader = Reader.start(vertx, storage, 5);
    List<Future<Void>> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      RandomWriter writer = new RandomWriter(vertx, pool, prefix + "writer-" + w, new Random(seed + w),
          committed, rolledBack);
      writers.add(writer.run(transactionsPerWriter));
    }
    Await.result(Future.all(writers), Duration.ofMinutes(2));
    Await.until("the reader has seen all " + committed.size() + " committed events (seed " + seed + ")", CATCH_UP,
        () -> reader.idsOf(prefix).size() >= committed.size());
    int readsAfterCatchUp = reader.reads();
    Await.until("the reader has read twice more", CATCH_UP, () -> reader.reads() >= readsAfterCatchUp + 2);
    reader.stop();

    assertThat(reader.failure()).isNull();
    assertThat(committed).as("committed events (seed %d)", seed).isNotEmpty();
    assertThat(rolledBack).as("rolled-back events (seed %d)", seed).isNotEmpty();
    assertThat(reader.idsOf(prefix)).as("events seen (seed %d)", seed).doesNotHaveDuplicates()
        .containsExactlyInAnyOrderElementsOf(committed).doesNotContainAnyElementsOf(rolledBack);
    assertStrictlyIncreasing(reader.seen());
  }

  /** Reads this test's events ordered by insert position alone, after {@code position}; returns the last position. */
  private Future<Long> readByPosition(long position, List<Long> into) {
    return pool.preparedQuery("SELECT global_position, id FROM events WHERE global_position > $1"
            + " AND starts_with(stream_id, $2) ORDER BY global_position")
        .execute(Tuple.of(position, prefix))
        .map(rows -> {
          long last = position;
          for (Row row : rows) {
            into.add(row.getLong("id"));
            last = row.getLong("global_position");
          }
          return last;
        });
  }

  private static void assertStrictlyIncreasing(List<RecordedEvent> events) {
    for (int i = 1; i < events.size(); i++) {
      assertThat(events.get(i).checkpoint()).as("checkpoint of event %d read", i)
          .isGreaterThan(events.get(i - 1).checkpoint());
    }
  }

  /** One writer's transaction on its own connection, open until the test commits it. */
  private static final class OpenTransaction {
    private final SqlConnection connection;
    private final Transaction transaction;
    private final List<Long> eventIds = new ArrayList<>();
    private final List<Long> positions = new ArrayList<>();
    private long transactionId = -1;

    private OpenTransaction(SqlConnection connection, Transaction transaction) {
      this.connection = connection;
      this.transaction = transaction;
    }

    static Future<OpenTransaction> begin(Pool pool) {
      return pool.getConnection().compose(connection -> connection.begin()
          .map(transaction -> new OpenTransaction(connection, transaction)));
    }

    /** Takes the transaction's id now, as the storage's first write (to {@code streams}) does. */
    Future<Long> takeTransactionId() {
      return connection.query("SELECT pg_current_xact_id()::text").execute()
          .map(rows -> {
            transactionId = Long.parseLong(rows.iterator().next().getString(0));
            return transactionId;
          });
    }

    /** Inserts {@code count} events as the storage does, leaving id, position and time to the defaults. */
    Future<Void> insert(String streamId, int count) {
      List<Tuple> rows = new ArrayList<>();
      for (int version = 1; version <= count; version++) {
        long id = EVENT_IDS.getAndIncrement();
        eventIds.add(id);
        rows.add(Tuple.of(id, streamId, version, "Written", new JsonObject().put("version", version),
            new JsonObject(), id));
      }
      return connection.preparedQuery("INSERT INTO events (id, stream_id, stream_version, type, data, metadata, hlc)"
              + " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING global_position")
          .executeBatch(rows)
          .map(result -> {
            for (var batch = result; batch != null; batch = batch.next()) {
              positions.add(batch.iterator().next().getLong(0));
            }
            return null;
          });
    }

    Future<Void> commit() {
      return transaction.commit().eventually(() -> connection.close());
    }

    Future<Void> rollback() {
      return transaction.rollback().eventually(() -> connection.close());
    }

    long transactionId() {
      return transactionId;
    }

    List<Long> eventIds() {
      return eventIds;
    }

    List<Long> positions() {
      return positions;
    }
  }

  /**
   * Transactions one after another on one connection at a time, each with random pauses: before
   * it takes its id, before its insert and before it commits; about one in eight rolls back.
   */
  private static final class RandomWriter {
    private final Vertx vertx;
    private final Pool pool;
    private final String streamId;
    private final Random random;
    private final Set<Long> committed;
    private final Set<Long> rolledBack;

    RandomWriter(Vertx vertx, Pool pool, String streamId, Random random, Set<Long> committed, Set<Long> rolledBack) {
      this.vertx = vertx;
      this.pool = pool;
      this.streamId = streamId;
      this.random = random;
      this.committed = committed;
      this.rolledBack = rolledBack;
    }

    Future<Void> run(int transactions) {
      Future<Void> chain = Future.succeededFuture();
      for (int t = 0; t < transactions; t++) {
        chain = chain.compose(previous -> oneTransaction());
      }
      return chain;
    }

    private Future<Void> oneTransaction() {
      boolean idFirst = random.nextBoolean();
      int events = 1 + random.nextInt(3);
      boolean rollBack = random.nextInt(8) == 0;
      return OpenTransaction.begin(pool).compose(transaction -> pause()
          .compose(p -> idFirst ? transaction.takeTransactionId().mapEmpty() : Future.<Void>succeededFuture())
          .compose(p -> pause())
          .compose(p -> transaction.insert(streamId, events))
          .compose(p -> pause())
          .compose(p -> rollBack ? finish(transaction.rollback(), transaction, rolledBack)
              : finish(transaction.commit(), transaction, committed)));
    }

    private static Future<Void> finish(Future<Void> ended, OpenTransaction transaction, Set<Long> into) {
      return ended.onSuccess(v -> into.addAll(transaction.eventIds()));
    }

    private Future<Void> pause() {
      int millis = random.nextInt(12);
      return millis == 0 ? Future.succeededFuture() : vertx.timer(millis).mapEmpty();
    }
  }

  /** Pages through the global order from its last checkpoint until stopped, pausing only when a page is empty. */
  private static final class Reader {
    private final Vertx vertx;
    private final PgEventStorage storage;
    private final int pageSize;
    private final List<RecordedEvent> seen = new CopyOnWriteArrayList<>();
    private final AtomicInteger reads = new AtomicInteger();
    private final Promise<Void> stopped = Promise.promise();
    private volatile boolean stopping;
    private volatile Throwable failure;
    private GlobalCheckpoint checkpoint = GlobalCheckpoint.START;

    private Reader(Vertx vertx, PgEventStorage storage, int pageSize) {
      this.vertx = vertx;
      this.storage = storage;
      this.pageSize = pageSize;
    }

    static Reader start(Vertx vertx, PgEventStorage storage, int pageSize) {
      Reader reader = new Reader(vertx, storage, pageSize);
      vertx.runOnContext(v -> reader.readNext());
      return reader;
    }

    private void readNext() {
      if (stopping) {
        stopped.complete();
        return;
      }
      storage.readAll(checkpoint, pageSize)
          .onSuccess(this::took)
          .onFailure(cause -> {
            failure = cause;
            stopped.complete();
          });
    }

    private void took(List<RecordedEvent> page) {
      seen.addAll(page);
      if (!page.isEmpty()) {
        checkpoint = page.get(page.size() - 1).checkpoint();
      }
      reads.incrementAndGet();
      if (page.isEmpty()) {
        vertx.setTimer(2, t -> readNext());
      } else {
        readNext();
      }
    }

    void stop() {
      stopping = true;
      Await.result(stopped.future());
    }

    int reads() {
      return reads.get();
    }

    Throwable failure() {
      return failure;
    }

    List<RecordedEvent> seen() {
      return List.copyOf(seen);
    }

    List<Long> idsOf(String prefix) {
      return seen.stream().filter(e -> e.streamId().startsWith(prefix)).map(RecordedEvent::id).toList();
    }
  }
}
