package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.await;
import static io.unbroken.bench.BenchRuns.format;
import static io.unbroken.bench.BenchRuns.median;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.FreePorts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * What {@code events: sync} adds to a request's latency: a node (PostgreSQL event store, two gateway
 * instances) serves two routes to the same fast upstream, {@code /off} (events off) and
 * {@code /sync} (the request's accepted-and-forwarded events committed before it is forwarded, its
 * completion committed before the client gets the answer). Run by {@code loadtest/events-bench.sh};
 * a {@code main} program, not a test.
 *
 * <p>Procedure: warm the JIT on both routes (closed loop); run each on one connection, closed loop,
 * so that nothing queues: what recording costs a request by itself, the floor under what it adds
 * at any load. Then find the most {@code /off} serves:
 * closed loop, {@code bench.connections} connections, {@code bench.duration} seconds (the same for
 * {@code /sync}, for information). Then drive both routes at {@code bench.rateShare} (half) of that
 * rate with an open-loop, constant-arrival generator: requests are due at fixed intervals whether
 * or not earlier ones were answered, and each latency counts from the moment its request was due,
 * so a stalled gateway cannot hide its waits by slowing the generator (coordinated omission).
 * {@code bench.rounds} rounds of one {@code /off} and one {@code /sync} run, their order alternating
 * by round; the first {@code bench.settle} seconds of every run are not counted. When {@code /sync}
 * cannot carry that rate at all (its own closed-loop maximum is lower), its latency there is only
 * queueing, so the comparison is repeated at the same share of {@code /sync}'s maximum, a load it
 * carries ({@code bench.belowSyncMaximum}, true).
 *
 * <p>The generator runs in this process on {@code bench.clientThreads} event loops, each sending its
 * share of the requests, interleaved, from a 1 ms timer: a request may leave up to about a
 * millisecond after it was due, which both routes pay alike, so the difference (sync - off) is
 * the cost of recording. The upstream is a Vert.x server on an event loop of its own, answering
 * {@code hello from upstream}.
 *
 * <p>Each run also prints what the node's writer did meanwhile (from its {@code /metrics}): events
 * per commit, the mean commit, and the histogram buckets that hold the 99th percentile and the
 * slowest commit. A request p99 far above the commit p99 means requests waited behind a commit
 * rather than in one.
 *
 * <p>Every open-loop run starts on a freshly collected heap ({@code System.gc()} before it), so
 * what a saturated run before it promoted does not come back as one long pause in the middle of
 * the next; each run prints its collections and the milliseconds they stopped the JVM
 * ({@code gc n/ms}, its settling and draining included): a p99 close to a run's longest pause is
 * the collector's.
 *
 * <p>A route that cannot carry the offered rate builds a queue that only grows, and would keep the
 * node busy long after its run, spoiling the next. So each open-loop run stops sending once
 * {@code bench.maxBacklogSeconds} (1) seconds' worth of requests are unanswered; it is then reported
 * as saturated (its latency is time spent queueing), and the next run starts only once every
 * request of this one has been answered.
 *
 * <p>Usage: {@code SyncEventsLatencyBenchmark postgresql://user@127.0.0.1:5432/fresh_database} (or
 * {@code -Dbench.pg.url=...}). System properties, with defaults: {@code bench.warmup} 25 (s),
 * {@code bench.settle} 1 (s), {@code bench.duration} 10 (s), {@code bench.rounds} 3,
 * {@code bench.connections} 50, {@code bench.clientThreads} 2, {@code bench.ratePercent} 50,
 * {@code bench.maxBacklogSeconds} 1, {@code bench.belowSyncMaximum} true, {@code bench.maxInFlight} the
 * event store's default (its commits at once), {@code bench.sweep} none
 * (shares of {@code /sync}'s closed-loop maximum at which both routes then run open loop once each,
 * see {@link LoadSweep}), {@code bench.rows} none (a file for a row per run, see {@link BenchRows}).
 */
public final class SyncEventsLatencyBenchmark {

  private static final double TARGET_ADDED_P99_MS = 2.0;
  private static final Buffer UPSTREAM_BODY = Buffer.buffer("hello from upstream\n");
  private static final String OFF = "/off";
  private static final String SYNC = "/sync";

  /** One measured run of one route. */
  record Run(int round, String route, String kind, double offered, double seconds, Tally tally,
      EventMeters.Delta store, GcPauses gc, ProcessCpu.Totals cpu) implements BenchRows.Measured {

    @Override
    public double rate() {
      return tally.answeredInWindow / seconds;
    }
  }

  private final List<Driver> drivers;
  private final List<Driver> oneConnection;
  private final int gatewayPort;
  private final int adminPort;
  private final Duration settle;
  private final Duration duration;
  private final double maxBacklogSeconds;
  private final BenchRows rows;

  private SyncEventsLatencyBenchmark(List<Driver> drivers, List<Driver> oneConnection, int gatewayPort,
      int adminPort, Duration settle, Duration duration, double maxBacklogSeconds, BenchRows rows) {
    this.drivers = drivers;
    this.oneConnection = oneConnection;
    this.gatewayPort = gatewayPort;
    this.adminPort = adminPort;
    this.settle = settle;
    this.duration = duration;
    this.maxBacklogSeconds = maxBacklogSeconds;
    this.rows = rows;
  }

  public static void main(String[] args) {
    String url = BenchRuns.databaseUrl(args, "SyncEventsLatencyBenchmark");
    BenchRuns.Load load = BenchRuns.Load.fromProperties();
    int maxBacklogSeconds = BenchRuns.intProperty("bench.maxBacklogSeconds", 1, 1, 60);
    Vertx upstreamVertx = BenchRuns.eventLoops(1);
    Vertx clientVertx = BenchRuns.eventLoops(load.clientThreads());
    UnbrokenNode node = null;
    try {
      int upstreamPort = FreePorts.next();
      HttpServer upstream = upstreamVertx.createHttpServer().requestHandler(request -> request.response()
          .putHeader(HttpHeaders.CONTENT_TYPE, "text/plain").end(UPSTREAM_BODY));
      await(upstream.listen(upstreamPort, "127.0.0.1"), Duration.ofSeconds(10));
      UnbrokenConfig.EventStore defaults = UnbrokenConfig.EventStore.DEFAULTS;
      UnbrokenConfig.EventStore writer = new UnbrokenConfig.EventStore(defaults.maxBatchEvents(), defaults.maxDelay(),
          BenchRuns.intProperty("bench.maxInFlight", defaults.maxInFlight(), 1, 64), defaults.appendTimeout(),
          defaults.asyncBacklog(), defaults.retention());
      UnbrokenConfig config = nodeConfig(url, "http://127.0.0.1:" + upstreamPort, writer);
      node = await(UnbrokenNode.start(config), Duration.ofSeconds(90));

      int gatewayPort = config.server().port();
      List<Driver> drivers = Driver.deploy(clientVertx, load.clientThreads(), load.connections(), gatewayPort,
          index -> Driver.RequestShape.GET);
      List<Driver> oneConnection = Driver.deploy(clientVertx, 1, 1, gatewayPort, index -> Driver.RequestShape.GET);

      System.out.println("Sync events latency benchmark: " + BenchRuns.redact(url));
      System.out.println(format("  node: 2 gateway instances, event store maxBatchEvents %d, maxDelay %d ms,"
          + " maxInFlight %d, pool %d; routes %s (events off) and %s (events sync) to one in-process upstream",
          writer.maxBatchEvents(), writer.maxDelay().toMillis(), writer.maxInFlight(),
          config.postgres().orElseThrow().poolSize(), OFF, SYNC));
      System.out.println(load.describe("GET", OFF));
      new SyncEventsLatencyBenchmark(drivers, oneConnection, gatewayPort, config.admin().port(), load.settle(), load.duration(),
          maxBacklogSeconds, BenchRows.fromProperties())
          .run(load.warmup(), load.rounds(), load.rateShare(), BenchRuns.booleanProperty("bench.belowSyncMaximum", true),
              LoadSweep.percentsFromProperties());
    } finally {
      if (node != null) {
        await(node.close(), Duration.ofSeconds(30));
      }
      await(clientVertx.close(), Duration.ofSeconds(30));
      await(upstreamVertx.close(), Duration.ofSeconds(30));
    }
  }

  private static UnbrokenConfig nodeConfig(String url, String upstream, UnbrokenConfig.EventStore writer) {
    Function<EventsMode, Function<String, RouteConfig>> route = mode -> prefix -> new RouteConfig(prefix,
        URI.create(upstream), Set.of(), Duration.ofSeconds(30), 1 << 20, mode, IdempotencyPolicy.DISABLED);
    return new UnbrokenConfig(
        new UnbrokenConfig.Listener("127.0.0.1", FreePorts.next(), 2),
        new UnbrokenConfig.Admin("127.0.0.1", FreePorts.next(), Optional.empty()),
        Optional.empty(),
        Optional.of(new UnbrokenConfig.Postgres(url, 8)),
        new UnbrokenConfig.Node(0, Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(2),
            Duration.ofMillis(500)),
        new UnbrokenConfig.Cluster(false, "127.0.0.1", 5701, List.of("127.0.0.1")),
        new UnbrokenConfig.Demo(false, 0),
        List.of(route.apply(EventsMode.OFF).apply(OFF), route.apply(EventsMode.SYNC).apply(SYNC)),
        writer);
  }

  private void run(Duration warmup, int rounds, double rateShare, boolean alsoBelowSyncMaximum,
      List<Integer> sweepPercents) {
    awaitServing(SYNC);
    if (!warmup.isZero()) {
      long offSeconds = Math.max(1, warmup.toSeconds() * 3 / 5);
      System.out.println(format("%nwarming up (%d s closed loop on %s, %d s on %s)", offSeconds, OFF,
          Math.max(1, warmup.toSeconds() - offSeconds), SYNC));
      closedLoop(drivers, OFF, Duration.ZERO, Duration.ofSeconds(offSeconds));
      closedLoop(drivers, SYNC, Duration.ZERO, Duration.ofSeconds(Math.max(1, warmup.toSeconds() - offSeconds)));
    }
    uncontended();

    List<Run> maxima = closedLoops(drivers, "closed loop (as many requests as the connections carry)");
    Run offMax = maxima.get(0);
    Run syncMax = maxima.get(1);
    double rate = Math.max(1, Math.floor(offMax.rate() * rateShare));
    String share = format("%.0f%%", 100 * rateShare);
    printSummary(openLoopRounds(OFF, rounds, rate), rounds, rate, share + " of the closed-loop maximum of " + OFF);

    if (alsoBelowSyncMaximum && syncMax.rate() < rate) {
      // Above what /sync can carry, its latency is the time spent queueing, which only grows with
      // the run's length; the same comparison at a load /sync does carry says what recording adds.
      double syncRate = Math.max(1, Math.floor(syncMax.rate() * rateShare));
      System.out.println(format("%n%s carried at most %.0f requests/s (closed loop), less than the %.0f offered above,"
          + " so its latency there is queueing. The same comparison at %s of that maximum, %.0f requests/s:", SYNC,
          syncMax.rate(), rate, share, syncRate));
      printSummary(openLoopRounds(SYNC, rounds, syncRate), rounds, syncRate,
          share + " of the closed-loop maximum of " + SYNC);
    }
    LoadSweep.run(sweepPercents, SYNC, syncMax.rate(), List.of(OFF, SYNC), (route, load) -> openLoop(0, route, load),
        rows);
  }

  /**
   * {@code rounds} rounds of one open-loop run per route at {@code rate}, a share of {@code baseline}'s
   * maximum, the order alternating.
   */
  private List<Run> openLoopRounds(String baseline, int rounds, double rate) {
    List<Run> runs = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      System.out.println(format("%nround %d: open loop at %.0f requests/s", round, rate));
      printHeader();
      for (String route : round % 2 == 1 ? List.of(OFF, SYNC) : List.of(SYNC, OFF)) {
        Run run = openLoop(round, route, rate);
        runs.add(run);
        printRun(run);
        rows.write("open@" + baseline, route, round, rate, run);
      }
    }
    return runs;
  }

  /** Polls {@code path} until it answers 200: the node's worker id is leased and its store writes. */
  private void awaitServing(String path) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    Driver driver = drivers.get(0);
    while (true) {
      Future<Integer> status = driver.call(gatewayPort, path + "/ready");
      await(status.otherwiseEmpty(), Duration.ofSeconds(10));
      if (status.succeeded() && status.result() == 200) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(path + " did not answer 200 within 30 s: "
            + (status.succeeded() ? "status " + status.result() : status.cause()));
      }
      await(driver.pause(Duration.ofMillis(200)), Duration.ofSeconds(5));
    }
  }

  /**
   * Both routes on one connection, closed loop: no request waits for another, nor for a core the
   * load holds, so the difference is what recording costs a request by itself (a commit before
   * forwarding and one before answering): the floor under what it adds at any load.
   */
  private void uncontended() {
    List<Run> runs = closedLoops(oneConnection, "one connection, closed loop (nothing queues: what recording costs a"
        + " request by itself)");
    System.out.println(format("  with nothing else running, sync adds %+.3f ms at p50 and %+.3f ms at p99",
        runs.get(1).p(50) - runs.get(0).p(50), runs.get(1).p(99) - runs.get(0).p(99)));
  }

  /** Both routes closed loop on {@code by}'s connections, printed under {@code title}: /off's run, then /sync's. */
  private List<Run> closedLoops(List<Driver> by, String title) {
    System.out.println(format("%n%s", title));
    printHeader();
    List<Run> runs = new ArrayList<>();
    for (String route : List.of(OFF, SYNC)) {
      Run run = closedLoop(by, route, settle, duration);
      printRun(run);
      rows.write(by == oneConnection ? "floor" : "max", route, 0, Double.NaN, run);
      runs.add(run);
    }
    return runs;
  }

  private Run closedLoop(List<Driver> by, String route, Duration settle, Duration length) {
    long from = System.nanoTime() + settle.toNanos();
    long until = from + length.toNanos();
    String kind = by == oneConnection ? "1 conn" : "closed";
    return measured(by, 0, route, kind, Double.NaN, from, until, d -> d.closedLoop(route + "/orders", from, until));
  }

  private Run openLoop(int round, String route, double rate) {
    GcPauses.startClean();
    long start = System.nanoTime() + Duration.ofMillis(20).toNanos(); // every driver is on its timer by then
    long from = start + settle.toNanos();
    long until = from + duration.toNanos();
    // Each driver sends 1/n of the rate, so it holds 1/n of the backlog; at least two requests a connection.
    long maxOutstanding = Math.max(2L * drivers.get(0).connections,
        (long) Math.ceil(rate * maxBacklogSeconds / drivers.size()));
    return measured(drivers, round, route, "open", rate, from, until,
        d -> d.openLoop(route + "/orders", rate, start, from, until, maxOutstanding));
  }

  private Run measured(List<Driver> by, int round, String route, String kind, double offered, long from, long until,
      Function<Driver, Future<Tally>> load) {
    EventMeters before = EventMeters.scrape(drivers.get(0), adminPort);
    GcPauses gcBefore = GcPauses.now();
    List<Future<Tally>> tallies = by.stream().map(load).toList();
    ProcessCpu.Totals cpu = ProcessCpu.between(from, until);
    Duration bound = Duration.ofNanos(until - System.nanoTime()).plus(Driver.DRAIN_TIMEOUT).plusSeconds(5);
    Tally total = new Tally();
    for (Future<Tally> tally : tallies) {
      total.add(await(tally, bound));
    }
    EventMeters after = EventMeters.scrape(drivers.get(0), adminPort);
    // A saturated run stops sending early; its answers still come at the route's pace until the last.
    long end = Double.isNaN(total.saturatedAt) ? until : Math.max(from + 1, Math.min(until, total.lastAnswer));
    return new Run(round, route, kind, offered, (end - from) / 1e9, total, after.since(before),
        GcPauses.now().since(gcBefore), cpu);
  }

  private static void printHeader() {
    System.out.println(format("  %-6s %-6s %10s %10s %9s %9s %9s %9s %7s %9s %10s %10s %10s %8s", "route", "loop",
        "offered/s", "answers/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "ev/commit", "commit ms",
        "commit p99", "commit max", "gc n/ms"));
  }

  private static void printRun(Run run) {
    System.out.println(format("  %-6s %-6s %10s %10.0f %9.3f %9.3f %9.3f %9.3f %7d %9s %10s %10s %10s %8s",
        run.route(), run.kind(),
        Double.isNaN(run.offered()) ? "-" : format("%.0f", run.offered()), run.rate(), run.p(50), run.p(99),
        run.p(99.9), run.p(100), run.tally().errors, run.store().eventsPerCommitText(),
        run.store().commitMillisText(), run.store().commitPercentileText(99), run.store().commitPercentileText(100),
        run.gc().text()));
    if (!run.kind().equals("open")) {
      System.out.println("         " + run.cpuText());
    }
    if (run.tally().firstError != null) {
      System.out.println("         first error: " + run.tally().firstError);
    }
    if (run.saturated()) {
      System.out.println(format("         SATURATED: %d requests unanswered at once %.1f s into the counted window;"
          + " sending stopped there, latencies are time spent queueing", run.tally().backlog, run.tally().saturatedAt));
    }
    if (run.tally().unfinished > 0) {
      System.out.println("         " + run.tally().unfinished + " request(s) still unanswered "
          + Driver.DRAIN_TIMEOUT.toSeconds() + " s after the run");
    }
    if (!Double.isNaN(run.offered()) && !run.saturated() && run.rate() < 0.98 * run.offered()) {
      System.out.println(format("         answered %.0f%% of the offered rate:"
          + " the node (or the generator) did not keep up", 100 * run.rate() / run.offered()));
    }
  }

  private static void printSummary(List<Run> runs, int rounds, double rate, String load) {
    System.out.println(format("%nsummary: open loop at %.0f requests/s (%s), medians over %d round(s)", rate, load,
        rounds));
    System.out.println(format("  %-6s %10s %9s %9s %9s", "route", "answers/s", "p50 ms", "p99 ms", "p99.9 ms"));
    for (String route : List.of(OFF, SYNC)) {
      List<Run> these = runs.stream().filter(r -> r.route().equals(route)).toList();
      System.out.println(format("  %-6s %10.0f %9.3f %9.3f %9.3f", route,
          median(these.stream().map(Run::rate).toList()), median(these.stream().map(r -> r.p(50)).toList()),
          median(these.stream().map(r -> r.p(99)).toList()), median(these.stream().map(r -> r.p(99.9)).toList())));
    }
    double addedP50 = median(added(runs, 50));
    double addedP99 = median(added(runs, 99));
    System.out.println(format("%nadded by events: sync (medians of per-round differences sync - off)"));
    System.out.println(format("  p50 %+.3f ms", addedP50));
    System.out.println(format("  p99 %+.3f ms   per round: %s", addedP99, added(runs, 99).stream()
        .map(d -> format("%+.3f", d)).toList()));
    long saturated = runs.stream().filter(Run::saturated).count();
    System.out.println(format("%ntarget: sync adds <= %.1f ms at p99 at %.0f requests/s: %+.3f ms, %s%s",
        TARGET_ADDED_P99_MS, rate, addedP99,
        saturated == 0 && addedP99 <= TARGET_ADDED_P99_MS ? "meets the target" : "ABOVE the target",
        saturated == 0 ? "" : format(" (%d of %d runs saturated: their latency is queueing)", saturated, runs.size())));
  }

  /** Per round, sync's percentile minus off's. */
  private static List<Double> added(List<Run> runs, double percentile) {
    List<Double> differences = new ArrayList<>();
    for (Run sync : runs) {
      if (sync.route().equals(SYNC)) {
        runs.stream().filter(r -> r.round() == sync.round() && r.route().equals(OFF)).findFirst()
            .ifPresent(off -> differences.add(sync.p(percentile) - off.p(percentile)));
      }
    }
    return differences;
  }

  /**
   * The event store's writer meters, scraped from the node's admin {@code /metrics}; {@code commitBuckets}
   * maps each commit-latency bucket's upper bound (seconds) to its cumulative count.
   */
  record EventMeters(double commits, double events, double commitSeconds, NavigableMap<Double, Double> commitBuckets) {

    private static final String COMMIT_LATENCY = "unbroken_events_commit_latency_seconds";

    /** What happened between two scrapes. */
    record Delta(double commits, double events, double commitSeconds, NavigableMap<Double, Double> commitBuckets) {
      String eventsPerCommitText() {
        return commits > 0 ? format("%.1f", events / commits) : "-";
      }

      String commitMillisText() {
        return commits > 0 ? format("%.3f", 1000 * commitSeconds / commits) : "-";
      }

      /**
       * The upper bound of the bucket that holds the commit at {@code percentile}: whether a slow
       * answer's time went into committing or into waiting for a commit.
       */
      String commitPercentileText(double percentile) {
        // The histogram's own total: batches still committing at a scrape count in batch sizes, not here.
        double finished = commitBuckets.isEmpty() ? 0 : commitBuckets.lastEntry().getValue();
        if (finished <= 0) {
          return "-";
        }
        Map.Entry<Double, Double> bucket = commitBuckets.entrySet().stream()
            .filter(candidate -> candidate.getValue() >= percentile / 100 * finished)
            .findFirst().orElseThrow();
        Double below = commitBuckets.lowerKey(bucket.getKey());
        return bucket.getKey().isInfinite()
            ? format(">%.3f", 1000 * (below == null ? 0 : below))
            : format("<=%.3f", 1000 * bucket.getKey());
      }
    }

    static EventMeters scrape(Driver driver, int adminPort) {
      String text = await(driver.body(adminPort, "/metrics"), Duration.ofSeconds(10)).toString();
      NavigableMap<Double, Double> buckets = new TreeMap<>();
      for (String line : text.split("\n")) {
        int bound = line.indexOf("le=\"");
        if (line.startsWith(COMMIT_LATENCY + "_bucket{") && bound >= 0) {
          String le = line.substring(bound + 4, line.indexOf('"', bound + 4));
          buckets.put(le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le), lastNumber(line));
        }
      }
      return new EventMeters(value(text, "unbroken_events_batch_size_count"),
          value(text, "unbroken_events_batch_size_sum"), value(text, COMMIT_LATENCY + "_sum"), buckets);
    }

    Delta since(EventMeters before) {
      NavigableMap<Double, Double> buckets = new TreeMap<>();
      commitBuckets.forEach((bound, count) ->
          buckets.put(bound, count - before.commitBuckets.getOrDefault(bound, 0.0)));
      return new Delta(commits - before.commits, events - before.events, commitSeconds - before.commitSeconds,
          buckets);
    }

    private static double value(String text, String name) {
      for (String line : text.split("\n")) {
        if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
          return lastNumber(line);
        }
      }
      return 0;
    }

    private static double lastNumber(String line) {
      return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }
  }
}
