package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.await;
import static io.unbroken.bench.BenchRuns.format;
import static io.unbroken.bench.BenchRuns.median;
import static io.unbroken.bench.BenchRuns.percentileMillis;

import io.unbroken.UnbrokenNode;
import io.unbroken.bench.DriverRuns.Run;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.IdempotencyPolicy.Inflight;
import io.unbroken.config.IdempotencyPolicy.Mode;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.idempotency.KeyFilter;
import io.unbroken.idempotency.pg.PgIdempotencyRecords;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.FreePorts;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * What Idempotency-Key handling adds to a request, on the real Redis and PostgreSQL: one node
 * serves three routes to the same fast upstream, all {@code POST} with the same small body and
 * events off: {@code /pass} (no idempotency), {@code /fresh} (required keys, every request a new
 * one: a claim in Redis, the answer stored there and written to PostgreSQL behind the client's
 * answer) and {@code /replay} (one key per client connection group, so all but the first request
 * are replays). Run by {@code loadtest/idempotency-bench.sh}; a {@code main} program, not a test.
 *
 * <p>Procedure, as in {@link SyncEventsLatencyBenchmark}: warm up; run {@code /pass} and
 * {@code /fresh} on one connection, closed loop, and time Redis round trips on one connection,
 * so that nothing queues (what a new key costs a request by itself); find each route's closed-loop
 * maximum, then drive the three at {@code bench.ratePercent} (half) of {@code /pass}'s maximum
 * with an open-loop generator (latency counted from when each request was due), order rotating per
 * round, each on a freshly collected heap and printing its collections ({@code gc n/ms}), and
 * report medians over rounds of p50 and p99 and what each route adds over {@code /pass}. Then a
 * duplicate storm: {@code bench.storm} simultaneous requests with one key on a route that
 * answers 409 and one that holds duplicates until the first finishes, counting what reached the
 * upstream. Last, the Bloom filter: the durable answers are replaced by
 * {@code bench.filterKeys} new ones and the filter of that size is rebuilt from them, as a node
 * does at start. With {@code bench.sweep}, before the storm, {@code /pass} and {@code /fresh} open
 * loop at those shares of {@code /fresh}'s maximum ({@link LoadSweep}); with {@code bench.rows}, every
 * run is also written as a row ({@link BenchRows}).
 *
 * <p>Usage: {@code IdempotencyLatencyBenchmark postgresql://user@127.0.0.1:5432/fresh_database}.
 * System properties, with defaults: {@code bench.redis.url} redis://127.0.0.1:6379,
 * {@code bench.warmup} 25 (s), {@code bench.settle} 1, {@code bench.duration} 10, {@code bench.rounds}
 * 3, {@code bench.connections} 50, {@code bench.clientThreads} 2, {@code bench.ratePercent} 50,
 * {@code bench.storm} 1000, {@code bench.filterKeys} 1000000, {@code bench.sweep} none,
 * {@code bench.rows} none, {@code bench.durable} true: with false the node runs on Redis alone, a
 * deployment without {@code postgres:} whose answers live in Redis only, so that a run shows what
 * the durable record in PostgreSQL costs the routes (and the Bloom filter, which a node rebuilds
 * from durable answers, is skipped).
 */
public final class IdempotencyLatencyBenchmark {

  private static final String PASS = "/pass";
  private static final String FRESH = "/fresh";
  private static final String REPLAY = "/replay";
  private static final List<String> ROUTES = List.of(PASS, FRESH, REPLAY);
  private static final Buffer BODY = Buffer.buffer("{\"amount\":1250,\"currency\":\"EUR\"}");
  private static final double TARGET_P50_MS = 0.3;
  private static final double TARGET_P99_MS = 1.0;

  private final List<Driver> drivers;
  private final List<Driver> oneConnection;
  private final Duration settle;
  private final Duration duration;
  private final BenchRows rows;
  /** Each route's closed-loop run, once {@link #run} has measured them. */
  private final Map<String, Run> maxima = new LinkedHashMap<>();

  private IdempotencyLatencyBenchmark(List<Driver> drivers, List<Driver> oneConnection, Duration settle,
      Duration duration, BenchRows rows) {
    this.drivers = drivers;
    this.oneConnection = oneConnection;
    this.settle = settle;
    this.duration = duration;
    this.rows = rows;
  }

  public static void main(String[] args) {
    String url = BenchRuns.databaseUrl(args, "IdempotencyLatencyBenchmark");
    String redisUrl = System.getProperty("bench.redis.url", "redis://127.0.0.1:6379");
    BenchRuns.Load load = BenchRuns.Load.fromProperties();
    int storm = BenchRuns.intProperty("bench.storm", 1000, 2, 100_000);
    int filterKeys = BenchRuns.intProperty("bench.filterKeys", 1_000_000, 2, 100_000_000);
    boolean durable = BenchRuns.booleanProperty("bench.durable", true);

    Vertx upstreamVertx = BenchRuns.eventLoops(1);
    Vertx clientVertx = BenchRuns.eventLoops(load.clientThreads());
    Map<String, AtomicLong> reached = new ConcurrentHashMap<>();
    UnbrokenNode node = null;
    try {
      int upstreamPort = FreePorts.next();
      HttpServer upstream = upstreamVertx.createHttpServer().requestHandler(request -> {
        reached.computeIfAbsent(request.path(), path -> new AtomicLong()).incrementAndGet();
        // A storm's first attempt takes a while, so its duplicates arrive while it is in flight.
        long work = request.path().startsWith("/storm") ? 200 : 0;
        request.body().onSuccess(body -> answerAfter(upstreamVertx, request, work));
      });
      await(upstream.listen(upstreamPort, "127.0.0.1"), Duration.ofSeconds(10));
      UnbrokenConfig config = nodeConfig(durable ? Optional.of(url) : Optional.empty(), redisUrl,
          "http://127.0.0.1:" + upstreamPort);
      node = await(UnbrokenNode.start(config), Duration.ofSeconds(90));

      int gatewayPort = config.server().port();
      List<Driver> drivers = Driver.deploy(clientVertx, load.clientThreads(), load.connections(), gatewayPort,
          IdempotencyLatencyBenchmark::shapeFor);
      List<Driver> oneConnection = Driver.deploy(clientVertx, 1, 1, gatewayPort, IdempotencyLatencyBenchmark::shapeFor);

      System.out.println("Idempotency latency benchmark: " + BenchRuns.redact(url) + ", " + redisUrl);
      System.out.println(format("  node: 2 gateway instances, %s; routes %s (no idempotency), %s (a new key each"
          + " request), %s (replays of one key per driver), all POST, events off, one in-process upstream",
          durable ? "answers in Redis and written behind to PostgreSQL" : "Redis alone (bench.durable=false)", PASS,
          FRESH, REPLAY));
      System.out.println(load.describe("POST", PASS));
      IdempotencyLatencyBenchmark bench = new IdempotencyLatencyBenchmark(drivers, oneConnection, load.settle(),
          load.duration(), BenchRows.fromProperties());
      bench.run(load.warmup(), load.rounds(), load.rateShare(), clientVertx, redisUrl);
      bench.sweep(LoadSweep.percentsFromProperties());
      bench.storm(gatewayPort, storm, reached);
      if (durable) {
        rebuildFilter(clientVertx, url, filterKeys);
      } else {
        System.out.println(format("%nBloom filter: not rebuilt (bench.durable=false: no durable answers to read)"));
      }
    } finally {
      if (node != null) {
        await(node.close(), Duration.ofSeconds(30));
      }
      await(clientVertx.close(), Duration.ofSeconds(30));
      await(upstreamVertx.close(), Duration.ofSeconds(30));
    }
  }

  private static void answerAfter(Vertx vertx, io.vertx.core.http.HttpServerRequest request, long millis) {
    if (millis == 0) {
      request.response().putHeader("Content-Type", "application/json").end("{\"order\":1}");
    } else {
      vertx.setTimer(millis, t -> request.response().putHeader("Content-Type", "application/json").end("{\"order\":1}"));
    }
  }

  /** Every request is a POST with the same body; keys: none, a new one each, or one per driver. */
  private static Driver.RequestShape shapeFor(int driver) {
    String prefix = UUID.randomUUID() + "-" + driver + "-";
    return (path, sequence, options) -> {
      options.setMethod(HttpMethod.POST).putHeader("Content-Type", "application/json");
      if (path.startsWith(FRESH)) {
        options.putHeader("Idempotency-Key", prefix + sequence);
      } else if (path.startsWith(REPLAY)) {
        options.putHeader("Idempotency-Key", prefix + "replayed");
      }
      return BODY;
    };
  }

  private static UnbrokenConfig nodeConfig(Optional<String> url, String redisUrl, String upstream) {
    // Short-lived: the keys a run leaves in a shared Redis expire soon after it.
    IdempotencyPolicy reject = new IdempotencyPolicy(Mode.REQUIRED, Duration.ofMinutes(10), Inflight.REJECT, "none");
    List<RouteConfig> routes = new ArrayList<>();
    for (String prefix : List.of(PASS, FRESH, REPLAY, "/storm-reject", "/storm-wait")) {
      IdempotencyPolicy policy = prefix.equals(PASS) ? IdempotencyPolicy.DISABLED
          : prefix.equals("/storm-wait") ? reject.withInflight(Inflight.WAIT) : reject;
      routes.add(new RouteConfig(prefix, URI.create(upstream), Set.of(), Duration.ofSeconds(30), 1 << 20,
          EventsMode.OFF, policy));
    }
    return new UnbrokenConfig(
        new UnbrokenConfig.Listener("127.0.0.1", FreePorts.next(), 2),
        new UnbrokenConfig.Admin("127.0.0.1", FreePorts.next(), Optional.empty()),
        Optional.of(new UnbrokenConfig.Redis(redisUrl, "unbroken-bench:" + UUID.randomUUID())),
        url.map(durableStore -> new UnbrokenConfig.Postgres(durableStore, 8)),
        new UnbrokenConfig.Node(0, Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(2),
            Duration.ofMillis(500)),
        new UnbrokenConfig.Cluster(false, "127.0.0.1", 5701, List.of("127.0.0.1")),
        new UnbrokenConfig.Demo(false, 0),
        routes);
  }

  private void run(Duration warmup, int rounds, double rateShare, Vertx clientVertx, String redisUrl) {
    if (!warmup.isZero()) {
      System.out.println(format("%nwarming up (%d s closed loop, shared by the routes)", warmup.toSeconds()));
      for (String route : ROUTES) {
        closedLoop(drivers, route, Duration.ZERO, warmup.dividedBy(ROUTES.size()));
      }
    }
    uncontended(clientVertx, redisUrl);
    System.out.println(format("%nclosed loop (as many requests as the connections carry)"));
    printHeader();
    for (String route : ROUTES) {
      Run max = closedLoop(drivers, route, settle, duration);
      maxima.put(route, max);
      printRun("closed", max);
      rows.write("max", route, 0, Double.NaN, max);
    }
    double rate = Math.max(1, Math.floor(maxima.get(PASS).rate() * rateShare));
    summarize(openLoopRounds(PASS, rounds, rate), rounds, rate, maxima);
    double freshRate = Math.max(1, Math.floor(maxima.get(FRESH).rate() * rateShare));
    if (freshRate < rate) {
      // Above what /fresh carries its latency is queueing; at a load it carries it is what a key costs.
      System.out.println(format("%n%s carried at most %.0f requests/s (closed loop; every new key also costs its"
          + " store writes on these same cores), so the comparison again at %.0f%% of that, %.0f"
          + " requests/s:", FRESH, maxima.get(FRESH).rate(), 100 * rateShare, freshRate));
      summarize(openLoopRounds(FRESH, rounds, freshRate), rounds, freshRate, maxima);
    }
  }

  /**
   * /pass and /fresh at each of {@code percents} of /fresh's closed-loop maximum (see {@link LoadSweep}):
   * the loads at which a new key's cost shows, up to past what /fresh carries.
   */
  private void sweep(List<Integer> percents) {
    LoadSweep.run(percents, FRESH, maxima.get(FRESH).rate(), List.of(PASS, FRESH), this::openLoop, rows);
  }

  /**
   * {@code rounds} rounds of one open-loop run per route at {@code rate}, a share of {@code baseline}'s
   * maximum, the order rotating.
   */
  private List<Run> openLoopRounds(String baseline, int rounds, double rate) {
    List<Run> runs = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      System.out.println(format("%nround %d: open loop at %.0f requests/s", round, rate));
      printHeader();
      for (int i = 0; i < ROUTES.size(); i++) {
        Run run = openLoop(ROUTES.get((round - 1 + i) % ROUTES.size()), rate);
        runs.add(run);
        printRun("open", run);
        rows.write("open@" + baseline, run.side(), round, rate, run);
      }
    }
    return runs;
  }

  private void summarize(List<Run> runs, int rounds, double rate, Map<String, Run> maxima) {
    System.out.println(format("%nsummary: open loop at %.0f requests/s, medians over %d round(s)", rate, rounds));
    System.out.println(format("  %-8s %9s %9s %10s %10s", "route", "p50 ms", "p99 ms", "+p50 ms", "+p99 ms"));
    for (String route : ROUTES) {
      double p50 = median(latencies(runs, route, 50));
      double p99 = median(latencies(runs, route, 99));
      System.out.println(format("  %-8s %9.3f %9.3f %+10.3f %+10.3f", route, p50, p99,
          p50 - median(latencies(runs, PASS, 50)), p99 - median(latencies(runs, PASS, 99))));
    }
    double addedP50 = median(added(runs, FRESH, 50));
    double addedP99 = median(added(runs, FRESH, 99));
    System.out.println(format("%nadded by idempotency with fresh keys (medians of per-round differences %s - %s):"
        + " p50 %+.3f ms (target <= %.1f), p99 %+.3f ms (target <= %.1f): %s", FRESH, PASS, addedP50, TARGET_P50_MS,
        addedP99, TARGET_P99_MS, addedP50 <= TARGET_P50_MS && addedP99 <= TARGET_P99_MS ? "meets the targets"
            : "ABOVE a target"));
    double replayRatio = maxima.get(REPLAY).rate() / maxima.get(PASS).rate();
    System.out.println(format("replays: %.0f requests/s closed loop vs %.0f for %s (ratio %.2f, target >= 1.00): %s",
        maxima.get(REPLAY).rate(), maxima.get(PASS).rate(), PASS, replayRatio,
        replayRatio >= 1 ? "meets the target" : "BELOW the target"));
  }

  private static List<Double> latencies(List<Run> runs, String route, double percentile) {
    return runs.stream().filter(run -> run.side().equals(route)).map(run -> run.p(percentile)).toList();
  }

  /** Per round: the route's percentile minus that of /pass in the same round. */
  private static List<Double> added(List<Run> runs, String route, double percentile) {
    List<Double> differences = new ArrayList<>();
    List<Double> mine = latencies(runs, route, percentile);
    List<Double> baseline = latencies(runs, PASS, percentile);
    for (int i = 0; i < Math.min(mine.size(), baseline.size()); i++) {
      differences.add(mine.get(i) - baseline.get(i));
    }
    return differences;
  }

  /**
   * {@code /pass} and {@code /fresh} on one connection, closed loop, and Redis round trips on one
   * connection from this process: nothing queues and no other request competes for the cores, so
   * the difference is what a new key costs a request by itself, the floor under what it adds at any
   * load. Two of those round trips are in it (the claim before forwarding, the completion before answering).
   */
  private void uncontended(Vertx vertx, String redisUrl) {
    System.out.println(format("%none connection, closed loop (nothing queues: what a new key costs a request by itself)"));
    printHeader();
    Run pass = closedLoop(oneConnection, PASS, settle, duration);
    printRun("1 conn", pass);
    rows.write("floor", PASS, 0, Double.NaN, pass);
    Run fresh = closedLoop(oneConnection, FRESH, settle, duration);
    printRun("1 conn", fresh);
    rows.write("floor", FRESH, 0, Double.NaN, fresh);
    Histogram trips = redisRoundTrips(vertx, redisUrl, duration);
    System.out.println(format("  Redis round trips (PING, one connection from this process): %d, p50 %.3f ms, p99 %.3f"
        + " ms", trips.getTotalCount(), percentileMillis(trips, 50), percentileMillis(trips, 99)));
    System.out.println(format("  with nothing else running, %s adds %+.3f ms at p50 and %+.3f ms at p99; its two Redis"
        + " round trips alone take %.3f ms at p50", FRESH, fresh.p(50) - pass.p(50), fresh.p(99) - pass.p(99),
        2 * percentileMillis(trips, 50)));
  }

  /** PINGs one after another on one connection until {@code length} has passed: the time of each. */
  private static Histogram redisRoundTrips(Vertx vertx, String url, Duration length) {
    Histogram trips = BenchRuns.nanosHistogram();
    Redis client = Redis.createClient(vertx, url);
    try {
      RedisConnection connection = await(client.connect(), Duration.ofSeconds(10));
      Promise<Void> done = Promise.promise();
      ping(connection, trips, System.nanoTime() + length.toNanos(), done);
      await(done.future(), length.plusSeconds(10));
    } finally {
      client.close();
    }
    return trips;
  }

  private static void ping(RedisConnection connection, Histogram trips, long until, Promise<Void> done) {
    long sent = System.nanoTime();
    if (sent >= until) {
      done.complete();
      return;
    }
    connection.send(Request.cmd(Command.PING)).onComplete(pong -> {
      if (pong.failed()) {
        done.fail(pong.cause());
      } else {
        trips.recordValue(System.nanoTime() - sent);
        ping(connection, trips, until, done);
      }
    });
  }

  private static Run closedLoop(List<Driver> by, String route, Duration settleFor, Duration length) {
    return DriverRuns.closedLoop(by, route, route + "/orders", settleFor, length);
  }

  private Run openLoop(String route, double rate) {
    return DriverRuns.openLoop(drivers, route, route + "/orders", rate, settle, duration);
  }

  private static void printHeader() {
    System.out.println(format("  %-8s %-6s %10s %9s %9s %9s %7s %10s %s", "route", "loop", "answers/s", "p50 ms",
        "p99 ms", "max ms", "errors", "gc n/ms", "note"));
  }

  private static void printRun(String loop, Run run) {
    Tally tally = run.tally();
    String note = !Double.isNaN(tally.saturatedAt) ? "SATURATED (latency is queueing)"
        : tally.firstError != null ? "first error: " + tally.firstError : "";
    System.out.println(format("  %-8s %-6s %10.0f %9.3f %9.3f %9.3f %7d %10s %s", run.side(), loop, run.rate(),
        run.p(50), run.p(99), run.p(100), tally.errors, run.gc().text(), note));
    if (!loop.equals("open")) {
      System.out.println("           " + run.cpuText());
    }
  }

  /** {@code count} simultaneous requests with one key, on each storm route; what reached the upstream. */
  private void storm(int gatewayPort, int count, Map<String, AtomicLong> reached) {
    System.out.println(format("%nduplicate storm: %d simultaneous requests with one key", count));
    for (String route : List.of("/storm-reject", "/storm-wait")) {
      String key = UUID.randomUUID().toString();
      long started = System.nanoTime();
      Map<Integer, Long> statuses = await(drivers.get(0).storm(gatewayPort, route + "/pay", key, BODY, count),
          Duration.ofSeconds(60));
      double millis = (System.nanoTime() - started) / 1e6;
      System.out.println(format("  %-14s upstream reached %d time(s); answers by status %s; all answered in %.0f ms",
          route, reached.getOrDefault(route + "/pay", new AtomicLong()).get(), statuses, millis));
    }
  }

  /**
   * Writes {@code keys} live durable answers in place of those the runs above left, then times the
   * rebuild of a filter sized for them.
   */
  private static void rebuildFilter(Vertx vertx, String url, int keys) {
    Pool pool = PostgresConnector.create(vertx, new UnbrokenConfig.Postgres(url, 2));
    try {
      await(pool.query("TRUNCATE idempotency_records").execute(), Duration.ofMinutes(1));
      long written = System.nanoTime();
      await(pool.query("INSERT INTO idempotency_records (scope_key, state, fingerprint, answer, request_id,"
          + " completed_at, expires_at) SELECT md5(i::text) || md5((i + 1)::text), 'completed', 'fp',"
          + " '{\"status\":200,\"headers\":[],\"body\":\"\"}'::jsonb, i::text, now(), now() + interval '1 day'"
          + " FROM generate_series(1, " + keys + ") AS i ON CONFLICT DO NOTHING").execute(), Duration.ofMinutes(5));
      System.out.println(format("%nBloom filter: %d durable answers written in %.1f s", keys,
          (System.nanoTime() - written) / 1e9));
      KeyFilter filter = new KeyFilter(keys, 0.01);
      AtomicLong loaded = new AtomicLong();
      long started = System.nanoTime();
      await(new PgIdempotencyRecords(pool).forEachLiveKey(slice -> {
        slice.forEach(filter::add);
        loaded.addAndGet(slice.size());
      }), Duration.ofMinutes(5));
      double seconds = (System.nanoTime() - started) / 1e9;
      long size = filter.sizeInBytes();
      System.out.println(format("  rebuilt from %d keys in %.2f s (target <= 2 s): %s; filter for %d keys at 1%% takes"
          + " %.2f MB (target <= 2 MB): %s", loaded.get(), seconds, seconds <= 2 ? "meets the target" : "ABOVE the target",
          keys, size / 1e6, size <= 2_000_000 ? "meets the target" : "ABOVE the target"));
    } finally {
      await(pool.close(), Duration.ofSeconds(10));
    }
  }
}
