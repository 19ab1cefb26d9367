package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.await;
import static io.unbroken.bench.BenchRuns.format;
import static io.unbroken.bench.BenchRuns.median;
import static io.unbroken.bench.BenchRuns.percentileMillis;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.events.AppendResult;
import io.unbroken.events.EventStoreClient;
import io.unbroken.events.EventStoreVerticle;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.Stamps;
import io.unbroken.events.StreamAppend;
import io.unbroken.events.pg.PgEventStorage;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.platform.Migrations;
import io.unbroken.platform.PostgresConnector;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import org.HdrHistogram.Histogram;

/**
 * Append throughput and latency of the PostgreSQL event store, with and without group commit, at
 * 1 and 64 concurrent writers. Run by {@code loadtest/events-bench.sh}; a {@code main} program,
 * not a test.
 *
 * <p>Each writer keeps one append of one event in flight, to a stream of its own (so writers never
 * wait for each other's stream locks), with the exact expected version; as soon as one append is
 * answered it sends the next (closed loop). With {@code bench.streams=append} every append opens a
 * new stream instead (expected version: no stream), as each request's lifecycle does in the gateway,
 * so {@code streams} gains a row per append. The two ways to write:
 * <ul>
 *   <li><b>without</b> group commit: every append is its own transaction,
 *       {@code PgEventStorage.appendBatch(List.of(append))}, on a pool of 16 connections;</li>
 *   <li><b>with</b> group commit: through the node's writer, {@code EventStoreClient} over the
 *       event bus to {@code EventStoreVerticle} (maxBatchEvents 256, maxDelay 0, maxInFlight 2),
 *       on a pool of 4 connections, as the gateway's requests do.</li>
 * </ul>
 * Commits are durable (whatever the server's {@code synchronous_commit}, printed at the start).
 *
 * <p>Procedure: migrate the (fresh) database, warm the JIT on every combination, then
 * {@code bench.rounds} rounds; in each, for every writer count, both ways back to back, which one
 * goes first alternating by round so that drift on the machine favours neither. Before each run the
 * tables are emptied and a new pool is opened; the first {@code bench.settle} seconds of a run are
 * not counted (connections open, batches reach their steady size), the next {@code bench.duration}
 * seconds are: throughput is the appends answered in that window divided by its length, latency is
 * each of those appends' time from send to answer ({@code System.nanoTime}, HdrHistogram).
 *
 * <p>Usage: {@code EventAppendBenchmark postgresql://user@127.0.0.1:5432/fresh_database} (or
 * {@code -Dbench.pg.url=...}). System properties, with defaults: {@code bench.warmup} 20 (s, in all),
 * {@code bench.settle} 1 (s), {@code bench.duration} 10 (s), {@code bench.rounds} 3,
 * {@code bench.writers} "1,64", {@code bench.streams} writer (or append).
 */
public final class EventAppendBenchmark {

  /** The figure the event store is built to reach: 64 writers through group commit. */
  private static final double TARGET_EVENTS_PER_SECOND = 30_000;
  private static final int TARGET_WRITERS = 64;

  private static final Duration RUN_TIMEOUT = Duration.ofMinutes(2);
  private static final Duration APPEND_TIMEOUT = Duration.ofSeconds(5);

  /** The two ways to write. */
  enum Mode {
    WITHOUT("without", 16, "one transaction per append, pool 16"),
    WITH("with", 4, "EventStoreClient -> EventStoreVerticle (maxBatchEvents 256, maxDelay 0, maxInFlight 2), pool 4");

    final String label;
    final int poolSize;
    final String description;

    Mode(String label, int poolSize, String description) {
      this.label = label;
      this.poolSize = poolSize;
      this.description = description;
    }
  }

  /** One measured run; {@code eventsPerCommit} is NaN without group commit (always 1). */
  record Run(int round, int writers, Mode mode, long appended, long failed, double seconds, Histogram latency,
      double eventsPerCommit, String firstFailure) {

    double eventsPerSecond() {
      return appended / seconds;
    }

    double p50() {
      return percentileMillis(latency, 50);
    }

    double p99() {
      return percentileMillis(latency, 99);
    }
  }

  private final Vertx vertx;
  private final String url;
  private final Stamps stamps;
  private final Context driver;
  private final boolean streamPerAppend;

  private EventAppendBenchmark(Vertx vertx, String url, boolean streamPerAppend) {
    this.vertx = vertx;
    this.url = url;
    this.streamPerAppend = streamPerAppend;
    InstantSource clock = InstantSource.system();
    SnowflakeIds ids = new SnowflakeIds(clock, 0, 5_000);
    ids.holdWorker(0, Long.MAX_VALUE); // one process, one worker id, for as long as it runs
    this.stamps = new Stamps(ids, new HybridLogicalClock(clock, 500));
    this.driver = vertx.getOrCreateContext();
  }

  public static void main(String[] args) {
    String url = BenchRuns.databaseUrl(args, "EventAppendBenchmark");
    Duration warmup = BenchRuns.seconds("bench.warmup", 20, 0, 600);
    Duration settle = BenchRuns.seconds("bench.settle", 1, 0, 60);
    Duration duration = BenchRuns.seconds("bench.duration", 10, 1, 600);
    int rounds = BenchRuns.intProperty("bench.rounds", 3, 1, 100);
    int[] writerCounts = writerCounts(System.getProperty("bench.writers", "1,64"));
    String streams = System.getProperty("bench.streams", "writer");
    if (!streams.equals("writer") && !streams.equals("append")) {
      throw new IllegalArgumentException("bench.streams must be 'writer' or 'append', got '" + streams + "'");
    }

    Migrations.apply(new UnbrokenConfig.Postgres(url, 1));
    Vertx vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    EventStoreClient.registerCodecs(vertx);
    try {
      new EventAppendBenchmark(vertx, url, streams.equals("append"))
          .run(warmup, settle, duration, rounds, writerCounts);
    } finally {
      await(vertx.close(), Duration.ofSeconds(30));
    }
  }

  private void run(Duration warmup, Duration settle, Duration duration, int rounds, int[] writerCounts) {
    System.out.println("Event append benchmark: " + BenchRuns.redact(url));
    System.out.println("  " + serverSettings());
    for (Mode mode : Mode.values()) {
      System.out.printf("  %-8s group commit: %s%n", mode.label, mode.description);
    }
    System.out.println(format("  1 event per append, %s; %d round(s) of %d s per run after %d s settling;"
            + " %d s warm-up", streamPerAppend ? "each append to a new stream" : "each writer to its own stream",
        rounds, duration.toSeconds(), settle.toSeconds(), warmup.toSeconds()));
    requireFreshDatabase();
    warmUp(warmup, writerCounts);

    List<Run> runs = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      Mode[] order = round % 2 == 1 ? new Mode[] {Mode.WITHOUT, Mode.WITH} : new Mode[] {Mode.WITH, Mode.WITHOUT};
      for (int writers : writerCounts) {
        for (Mode mode : order) {
          runs.add(measure(round, writers, mode, settle, duration));
        }
      }
      printRound(round, runs);
    }
    printSummary(runs, rounds, writerCounts);
  }

  private void warmUp(Duration warmup, int[] writerCounts) {
    if (warmup.isZero()) {
      return;
    }
    // Most of the warm-up goes to the largest writer count, which runs the most code per second;
    // each smaller count gets a tenth of it per way of writing.
    int largest = Arrays.stream(writerCounts).max().orElse(1);
    long total = warmup.toSeconds();
    long small = writerCounts.length > 1 ? Math.max(1, total / 10) : 0;
    long large = Math.max(1, (total - small * 2 * (writerCounts.length - 1)) / 2);
    System.out.println(format("%nwarming up (%d s)", warmup.toSeconds()));
    for (int writers : writerCounts) {
      for (Mode mode : Mode.values()) {
        measure(0, writers, mode, Duration.ZERO, Duration.ofSeconds(writers == largest ? large : small));
      }
    }
  }

  private Run measure(int round, int writers, Mode mode, Duration settle, Duration duration) {
    Pool pool = PostgresConnector.create(vertx, new UnbrokenConfig.Postgres(url, mode.poolSize));
    String deployment = null;
    try {
      // Every run starts from empty tables, so no run pays for the indexes an earlier one grew.
      await(pool.query("TRUNCATE streams, events").execute(), Duration.ofSeconds(30));
      PgEventStorage storage = new PgEventStorage(pool, stamps);
      await(storage.maintain(Duration.ofDays(90)), Duration.ofSeconds(30));
      Function<StreamAppend, Future<AppendResult>> append;
      DistributionSummary batches = null;
      if (mode == Mode.WITH) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        deployment = await(vertx.deployVerticle(new EventStoreVerticle(storage,
            new EventStoreVerticle.Batching(256, Duration.ZERO, 2, Duration.ofDays(90)),
            registry)), Duration.ofSeconds(30));
        batches = registry.get("unbroken.events.batch.size").summary();
        EventStoreClient client = new EventStoreClient(vertx, storage, APPEND_TIMEOUT);
        append = client::append;
      } else {
        append = one -> storage.appendBatch(List.of(one)).compose(outcomes -> outcomes.get(0).toFuture());
      }
      Writers load = new Writers(writers, append, batches, settle, duration);
      Promise<Run> done = Promise.promise();
      driver.runOnContext(v -> load.start().map(w -> load.result(round, mode)).onComplete(done));
      return await(done.future(), RUN_TIMEOUT);
    } finally {
      if (deployment != null) {
        await(vertx.undeploy(deployment), Duration.ofSeconds(30));
      }
      await(pool.close(), Duration.ofSeconds(30));
    }
  }

  /**
   * Closed-loop writers on one event loop (the driver's context, so no counter needs a lock): each
   * keeps one append in flight and sends the next as soon as it is answered.
   */
  private final class Writers {
    private final Function<StreamAppend, Future<AppendResult>> append;
    private final DistributionSummary batches;
    private final long measureFrom;
    private final long measureUntil;
    private final String[] streams;
    private final int[] versions;
    private final Histogram latency = BenchRuns.nanosHistogram();
    private final Promise<Void> drained = Promise.promise();
    private final String runId = UUID.randomUUID().toString().substring(0, 8);
    private int active;
    private long appended;
    private long failed;
    private String firstFailure;
    private long nextStream;
    private double batchCount = Double.NaN;
    private double batchTotal;

    Writers(int count, Function<StreamAppend, Future<AppendResult>> append, DistributionSummary batches,
        Duration settle, Duration duration) {
      this.append = append;
      this.batches = batches;
      this.streams = new String[count];
      this.versions = new int[count];
      long now = System.nanoTime();
      this.measureFrom = now + settle.toNanos();
      this.measureUntil = measureFrom + duration.toNanos();
    }

    Future<Void> start() {
      active = streams.length;
      for (int writer = 0; writer < streams.length; writer++) {
        streams[writer] = newStream();
        send(writer);
      }
      return drained.future();
    }

    private String newStream() {
      return "bench-" + runId + "-" + nextStream++;
    }

    private void send(int writer) {
      long sent = System.nanoTime();
      if (sent >= measureUntil) {
        if (--active == 0) {
          drained.complete();
        }
        return;
      }
      if (streamPerAppend) {
        streams[writer] = newStream();
        versions[writer] = 0;
      }
      int version = versions[writer];
      StreamAppend next = StreamAppend.of(streams[writer], ExpectedVersion.exactly(version),
          new NewEvent("RequestAccepted",
              new JsonObject().put("method", "POST").put("path", "/orders/" + version).put("route", "/orders"),
              new JsonObject().put("requestId", streams[writer] + "-" + version).put("node", "bench")));
      append.apply(next).onComplete(result -> answered(writer, sent, result));
    }

    private void answered(int writer, long sent, AsyncResult<AppendResult> result) {
      long now = System.nanoTime();
      boolean counted = now >= measureFrom && now < measureUntil;
      if (counted && Double.isNaN(batchCount) && batches != null) {
        batchCount = batches.count();
        batchTotal = batches.totalAmount();
      }
      boolean expected = result.succeeded() && result.result().firstVersion() == versions[writer] + 1
          && result.result().lastVersion() == versions[writer] + 1;
      if (expected) {
        versions[writer]++;
        if (counted) {
          appended++;
          latency.recordValue(now - sent);
        }
      } else {
        if (counted) {
          failed++;
        }
        if (firstFailure == null) {
          firstFailure = result.failed() ? String.valueOf(result.cause()) : "unexpected versions " + result.result();
        }
        streams[writer] = newStream(); // the stream's version is unknown now: go on with a fresh one
        versions[writer] = 0;
      }
      send(writer);
    }

    Run result(int round, Mode mode) {
      double perCommit = Double.NaN;
      if (batches != null && !Double.isNaN(batchCount)) {
        double commits = batches.count() - batchCount;
        perCommit = commits > 0 ? (batches.totalAmount() - batchTotal) / commits : Double.NaN;
      }
      double seconds = (measureUntil - measureFrom) / 1e9;
      return new Run(round, streams.length, mode, appended, failed, seconds, latency, perCommit, firstFailure);
    }
  }

  private void requireFreshDatabase() {
    Pool pool = PostgresConnector.create(vertx, new UnbrokenConfig.Postgres(url, 1));
    try {
      boolean empty = await(pool.query(
              "SELECT NOT EXISTS (SELECT 1 FROM streams) AND NOT EXISTS (SELECT 1 FROM events)").execute(),
          Duration.ofSeconds(30)).iterator().next().getBoolean(0);
      if (!empty) {
        throw new IllegalStateException("the database already holds events; this benchmark empties its tables"
            + " between runs, so it only runs on a fresh database of its own");
      }
    } finally {
      await(pool.close(), Duration.ofSeconds(30));
    }
  }

  private String serverSettings() {
    Pool pool = PostgresConnector.create(vertx, new UnbrokenConfig.Postgres(url, 1));
    try {
      Row row = await(pool.query("SELECT current_setting('server_version'), current_setting('synchronous_commit'),"
          + " current_setting('fsync'), current_setting('commit_delay')").execute(), Duration.ofSeconds(30))
          .iterator().next();
      return format("PostgreSQL %s, synchronous_commit=%s, fsync=%s, commit_delay=%s", row.getString(0),
          row.getString(1), row.getString(2), row.getString(3));
    } finally {
      await(pool.close(), Duration.ofSeconds(30));
    }
  }

  private static int[] writerCounts(String list) {
    try {
      int[] counts = Arrays.stream(list.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
      if (counts.length > 0 && Arrays.stream(counts).allMatch(n -> n >= 1 && n <= 1024)) {
        return counts;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("bench.writers must be a comma-separated list of numbers in 1..1024, got '"
        + list + "'");
  }

  private static void printRound(int round, List<Run> runs) {
    System.out.println(format("%nround %d", round));
    System.out.println(format("  %7s  %-7s %12s %9s %9s %14s %7s", "writers", "group", "events/s", "p50 ms", "p99 ms",
        "events/commit", "failed"));
    for (Run run : runs) {
      if (run.round() == round) {
        System.out.println(format("  %7d  %-7s %12.0f %9.3f %9.3f %14s %7d", run.writers(), run.mode().label,
            run.eventsPerSecond(), run.p50(), run.p99(),
            Double.isNaN(run.eventsPerCommit()) ? "1" : format("%.1f", run.eventsPerCommit()), run.failed()));
        if (run.firstFailure() != null) {
          System.out.println("           first failure: " + run.firstFailure());
        }
      }
    }
  }

  private static void printSummary(List<Run> runs, int rounds, int[] writerCounts) {
    System.out.println(format("%nsummary: medians over %d round(s)", rounds));
    System.out.println(format("  %7s  %-7s %12s %9s %9s %14s %7s", "writers", "group", "events/s", "p50 ms", "p99 ms",
        "events/commit", "failed"));
    for (int writers : writerCounts) {
      for (Mode mode : Mode.values()) {
        List<Run> these = runs.stream().filter(r -> r.writers() == writers && r.mode() == mode).toList();
        double perCommit = median(these.stream().map(Run::eventsPerCommit).filter(v -> !Double.isNaN(v)).toList());
        System.out.println(format("  %7d  %-7s %12.0f %9.3f %9.3f %14s %7d", writers, mode.label,
            median(these.stream().map(Run::eventsPerSecond).toList()), median(these.stream().map(Run::p50).toList()),
            median(these.stream().map(Run::p99).toList()),
            Double.isNaN(perCommit) ? "1" : format("%.1f", perCommit),
            these.stream().mapToLong(Run::failed).sum()));
      }
    }
    System.out.println(format("%nratios with/without group commit: medians of per-round ratios"));
    System.out.println(format("  %7s %12s %9s %9s", "writers", "events/s", "p50", "p99"));
    for (int writers : writerCounts) {
      System.out.println(format("  %7d %11.2fx %8.2fx %8.2fx", writers, ratio(runs, writers, Run::eventsPerSecond),
          ratio(runs, writers, Run::p50), ratio(runs, writers, Run::p99)));
    }
    if (Arrays.stream(writerCounts).anyMatch(n -> n == TARGET_WRITERS)) {
      double reached = median(runs.stream()
          .filter(r -> r.writers() == TARGET_WRITERS && r.mode() == Mode.WITH).map(Run::eventsPerSecond).toList());
      System.out.println(format("%ntarget: >= %.0f events/s with %d writers through group commit: %.0f events/s, %s",
          TARGET_EVENTS_PER_SECOND, TARGET_WRITERS, reached,
          reached >= TARGET_EVENTS_PER_SECOND ? "meets the target" : "BELOW the target"));
    }
  }

  /** Median over rounds of (with / without) for one figure. */
  private static double ratio(List<Run> runs, int writers, Function<Run, Double> figure) {
    List<Double> ratios = new ArrayList<>();
    for (Run with : runs) {
      if (with.writers() != writers || with.mode() != Mode.WITH) {
        continue;
      }
      runs.stream()
          .filter(r -> r.round() == with.round() && r.writers() == writers && r.mode() == Mode.WITHOUT)
          .findFirst()
          .map(figure)
          .filter(without -> without > 0)
          .ifPresent(without -> ratios.add(figure.apply(with) / without));
    }
    return median(ratios);
  }
}
