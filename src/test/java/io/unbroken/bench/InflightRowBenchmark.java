package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.await;
import static io.unbroken.bench.BenchRuns.format;
import static io.unbroken.bench.BenchRuns.median;
import static io.unbroken.bench.BenchRuns.percentileMillis;

import com.google.common.base.Ticker;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.unbroken.embedded.EmbeddedLocks;
import io.unbroken.events.EventStore;
import io.unbroken.events.EventStoreClient;
import io.unbroken.events.EventStoreVerticle;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.SideRow;
import io.unbroken.events.Stamps;
import io.unbroken.events.StreamAppend;
import io.unbroken.events.pg.PgEventStorage;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.idempotency.IdempotencyMetrics;
import io.unbroken.idempotency.KeyFilter;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.locks.ResourceLocks;
import io.unbroken.platform.Migrations;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.zombie.InflightRequest;
import io.unbroken.zombie.Reaper;
import io.unbroken.zombie.pg.PgOrphanedRequests;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.HdrHistogram.Histogram;

/**
 * What the durable in-flight row costs a request of an {@code events: sync} route, and what a
 * reaper pass costs with many finished requests in the store. Run by {@code loadtest/events-bench.sh}
 * ({@code BENCHES=inflight}); a {@code main} program, not a test.
 *
 * <p>A sync request waits for two commits and for nothing else the row changes: its opening append
 * (RequestAccepted, RequestForwarded) and its terminal one (RequestCompleted); the row is inserted
 * in the first and deleted in the second. So the benchmark drives those two appends, as the
 * gateway does, through the node's writer ({@code EventStoreClient} -> {@code EventStoreVerticle},
 * maxBatchEvents 256, maxDelay 0, maxInFlight 2, pool 4): {@code bench.writers} closed-loop
 * writers each run one request's appends after the other, <b>with</b> the row and <b>without</b>
 * it, alternating which goes first by round; a request's latency is its two commits back to back,
 * requests/s is requests recorded per second. What the row adds at p50/p99 and the ratio of
 * requests/s are printed per round and as medians.
 *
 * <p>Then the reaper: {@code bench.finished} requests are recorded and finished (their rows inserted
 * and deleted), {@code bench.orphans} are left in flight by a node with no lease and as many by a
 * node with one; the orphan query is timed against the same query on the store before the finished
 * requests were added (same orphans), and a pass that abandons the orphans is timed. The query's
 * plan (EXPLAIN ANALYZE) shows how many rows it read.
 */
public final class InflightRowBenchmark {

  private static final Duration APPEND_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration RUN_TIMEOUT = Duration.ofMinutes(2);
  private static final int QUERY_REPEATS = 30;

  private record Run(int round, boolean withRow, long requests, double seconds, Histogram latency) {
    double perSecond() {
      return requests / seconds;
    }
  }

  private final Vertx vertx;
  private final Pool pool;
  private final PgEventStorage storage;
  private final EventStore events;
  private final Context driver;
  private final String runId = UUID.randomUUID().toString().substring(0, 8);

  private InflightRowBenchmark(Vertx vertx, String url) {
    this.vertx = vertx;
    this.pool = PostgresConnector.create(vertx, new UnbrokenConfig.Postgres(url, 4));
    SnowflakeIds ids = new SnowflakeIds(InstantSource.system(), 0, 5_000);
    ids.holdWorker(0, Long.MAX_VALUE);
    this.storage = new PgEventStorage(pool, new Stamps(ids, new HybridLogicalClock(InstantSource.system(), 500)));
    await(vertx.deployVerticle(new EventStoreVerticle(storage,
        new EventStoreVerticle.Batching(256, Duration.ZERO, 2, Duration.ofDays(90)), new SimpleMeterRegistry())),
        Duration.ofSeconds(30));
    this.events = new EventStoreClient(vertx, storage, APPEND_TIMEOUT);
    this.driver = vertx.getOrCreateContext();
  }

  public static void main(String[] args) {
    String url = BenchRuns.databaseUrl(args, "InflightRowBenchmark");
    Duration warmup = BenchRuns.seconds("bench.warmup", 15, 0, 600);
    Duration duration = BenchRuns.seconds("bench.duration", 10, 1, 600);
    int rounds = BenchRuns.intProperty("bench.rounds", 3, 1, 100);
    int writers = BenchRuns.intProperty("bench.writers", 64, 1, 4096);
    int finished = BenchRuns.intProperty("bench.finished", 100_000, 0, 10_000_000);
    int orphans = BenchRuns.intProperty("bench.orphans", 100, 1, 100_000);
    Migrations.apply(new UnbrokenConfig.Postgres(url, 1));
    Vertx vertx = Vertx.vertx();
    EventStoreClient.registerCodecs(vertx);
    try {
      InflightRowBenchmark bench = new InflightRowBenchmark(vertx, url);
      System.out.println("In-flight row benchmark: " + BenchRuns.redact(url));
      bench.rowCost(warmup, duration, rounds, writers);
      bench.reaperCost(finished, orphans);
    } finally {
      await(vertx.close(), Duration.ofSeconds(30));
    }
  }

  private void rowCost(Duration warmup, Duration duration, int rounds, int writers) {
    System.out.println(format("%nA sync request's two commits, with and without its in-flight row: %d writers,"
        + " closed loop, %d s per run, %d round(s), %d s warm-up", writers, duration.toSeconds(), rounds,
        warmup.toSeconds()));
    if (!warmup.isZero()) {
      measure(0, true, writers, warmup.dividedBy(2));
      measure(0, false, writers, warmup.dividedBy(2));
    }
    List<Double> addedP50 = new ArrayList<>();
    List<Double> addedP99 = new ArrayList<>();
    List<Double> rateRatio = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      boolean rowFirst = round % 2 == 0;
      Run first = measure(round, rowFirst, writers, duration);
      Run second = measure(round, !rowFirst, writers, duration);
      Run with = rowFirst ? first : second;
      Run without = rowFirst ? second : first;
      for (Run run : List.of(without, with)) {
        System.out.println(format("  round %d %-7s row: %8.0f requests/s  p50 %6.2f ms  p99 %6.2f ms", round,
            run.withRow() ? "with" : "without", run.perSecond(), percentileMillis(run.latency(), 50),
            percentileMillis(run.latency(), 99)));
      }
      addedP50.add(percentileMillis(with.latency(), 50) - percentileMillis(without.latency(), 50));
      addedP99.add(percentileMillis(with.latency(), 99) - percentileMillis(without.latency(), 99));
      rateRatio.add(with.perSecond() / without.perSecond());
    }
    System.out.println(format("  medians: the row adds %.2f ms at p50 and %.2f ms at p99;"
        + " requests/s with/without %.3f", median(addedP50), median(addedP99), median(rateRatio)));
  }

  private Run measure(int round, boolean withRow, int writers, Duration duration) {
    await(pool.query("TRUNCATE streams, events").execute(), Duration.ofSeconds(30));
    await(storage.maintain(Duration.ofDays(90)), Duration.ofSeconds(30));
    Histogram latency = BenchRuns.nanosHistogram();
    long until = System.nanoTime() + duration.toNanos();
    long started = System.nanoTime();
    long[] recorded = new long[1];
    Promise<Void> done = Promise.promise();
    driver.runOnContext(v -> {
      List<Future<Void>> lanes = new ArrayList<>();
      for (int writer = 0; writer < writers; writer++) {
        lanes.add(lane(withRow, until, latency, recorded));
      }
      Future.all(lanes).<Void>mapEmpty().onComplete(done);
    });
    await(done.future(), RUN_TIMEOUT);
    return new Run(round, withRow, recorded[0], (System.nanoTime() - started) / 1e9, latency);
  }

  private Future<Void> lane(boolean withRow, long until, Histogram latency, long[] recorded) {
    if (System.nanoTime() >= until) {
      return Future.succeededFuture();
    }
    long sent = System.nanoTime();
    return request(withRow, "bench-" + UUID.randomUUID(), "live-node").compose(done -> {
      latency.recordValue(System.nanoTime() - sent);
      recorded[0]++;
      return lane(withRow, until, latency, recorded);
    });
  }

  /** One request's opening and terminal appends, as a sync route writes them. */
  private Future<Void> request(boolean withRow, String requestId, String node) {
    return open(withRow, requestId, node).compose(opened -> events.append(new StreamAppend(
            RequestLifecycle.streamOf(requestId), ExpectedVersion.exactly(2),
            List.of(event(RequestLifecycle.COMPLETED, new JsonObject().put("status", 200), requestId)),
            withRow ? List.of(InflightRequest.rowRemoval(requestId)) : List.of())))
        .mapEmpty();
  }

  private Future<Void> open(boolean withRow, String requestId, String node) {
    List<SideRow> rows = withRow ? List.of(new InflightRequest(requestId, node, "/orders", "POST",
        "/orders/" + requestId, "127.0.0.1", "", "", Instant.now(), 30_000).row()) : List.of();
    return events.append(new StreamAppend(RequestLifecycle.streamOf(requestId), ExpectedVersion.NO_STREAM,
        List.of(event(RequestLifecycle.ACCEPTED, new JsonObject().put("method", "POST").put("route", "/orders"),
            requestId), event(RequestLifecycle.FORWARDED, new JsonObject(), requestId)), rows)).mapEmpty();
  }

  private static NewEvent event(String type, JsonObject data, String requestId) {
    return new NewEvent(type, data, new JsonObject().put("requestId", requestId).put("node", "bench"));
  }

  private void reaperCost(int finished, int orphans) {
    System.out.println(format("%nThe reaper with %,d finished requests in the store: %d requests of a dead node"
        + " and %d of a live one in flight", finished, orphans, orphans));
    await(pool.query("TRUNCATE streams, events, worker_leases, reaper_lease").execute(),
        Duration.ofSeconds(30));
    await(pool.query("INSERT INTO worker_leases VALUES (0, 0, 'live-node', now() + interval '1 hour')").execute(),
        Duration.ofSeconds(30));
    inFlight(orphans, "dead-node");
    inFlight(orphans, "live-node");
    PgOrphanedRequests store = new PgOrphanedRequests(pool);
    double before = medianQueryMillis(store, orphans);
    long started = System.nanoTime();
    finish(finished);
    System.out.println(format("  %,d requests recorded and finished in %.1f s", finished,
        (System.nanoTime() - started) / 1e9));
    await(pool.query("VACUUM ANALYZE streams").execute(), Duration.ofMinutes(2));
    double after = medianQueryMillis(store, orphans);
    System.out.println(format("  orphan query (limit %d), median of %d: %.2f ms with no finished request,"
        + " %.2f ms with %,d (ratio %.2f)", orphans * 2, QUERY_REPEATS,
        before, after, finished, after / before));
    await(pool.query("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) SELECT stream_id FROM streams s WHERE inflight IS NOT NULL"
        + " AND NOT EXISTS (SELECT 1 FROM worker_leases w WHERE w.owner = s.inflight ->> 'node'"
        + " AND w.lease_until > clock_timestamp()) ORDER BY inflight ->> 'started' LIMIT 200").execute(), Duration.ofSeconds(30))
        .forEach(row -> System.out.println("    " + row.getString(0)));
    Reaper reaper = reaper(store);
    long passStarted = System.nanoTime();
    Reaper.Pass pass = await(reaper.pass(), Duration.ofMinutes(2));
    double passMillis = (System.nanoTime() - passStarted) / 1e6;
    long idleStarted = System.nanoTime();
    Reaper.Pass idle = await(reaper.pass(), Duration.ofMinutes(1));
    System.out.println(format("  reaper pass: %d requests abandoned in %.1f ms; the next pass: %d in %.1f ms",
        pass.abandoned(), passMillis, idle.abandoned(), (System.nanoTime() - idleStarted) / 1e6));
  }

  private Reaper reaper(PgOrphanedRequests store) {
    EmbeddedIdempotencyRecords keys = new EmbeddedIdempotencyRecords(InstantSource.system());
    Idempotency idempotency = new Idempotency(vertx, keys, Optional.empty(), Optional.of(keys),
        new KeyFilter(1_000, 0.01), new IdempotencyMetrics(new SimpleMeterRegistry()),
        Ticker.systemTicker(), new HybridLogicalClock(InstantSource.system(), 500),
        Duration.ofSeconds(10));
    EmbeddedLocks locks = new EmbeddedLocks(InstantSource.system());
    return new Reaper(store, events, idempotency, new ResourceLocks(vertx, locks, locks), List.of(), "bench-reaper",
        Duration.ofSeconds(10), new SimpleMeterRegistry());
  }

  private double medianQueryMillis(PgOrphanedRequests store, int orphans) {
    List<Double> millis = new ArrayList<>();
    for (int i = 0; i < QUERY_REPEATS; i++) {
      long started = System.nanoTime();
      int found = await(store.ofDeadNodes(orphans * 2), Duration.ofSeconds(30)).requests().size();
      millis.add((System.nanoTime() - started) / 1e6);
      if (found != orphans) {
        throw new IllegalStateException("the orphan query found " + found + " requests, not " + orphans);
      }
    }
    return median(millis);
  }

  private void inFlight(int count, String node) {
    List<Future<Void>> opened = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      opened.add(open(true, runId + "-" + node + "-" + i, node));
    }
    await(Future.all(opened), Duration.ofMinutes(1));
  }

  /** Records and finishes {@code count} requests, 256 at a time. */
  private void finish(int count) {
    for (int done = 0; done < count; done += 256) {
      List<Future<Void>> batch = new ArrayList<>();
      for (int i = done; i < Math.min(count, done + 256); i++) {
        batch.add(request(true, runId + "-finished-" + i, "live-node"));
      }
      await(Future.all(batch), Duration.ofMinutes(1));
    }
  }
}
