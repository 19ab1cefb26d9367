package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.await;
import static io.unbroken.bench.BenchRuns.format;
import static io.unbroken.bench.BenchRuns.percentileMillis;

import io.unbroken.embedded.ChaosFaults;
import io.unbroken.embedded.Ledgers;
import io.unbroken.embedded.Ledgers.Fault;
import io.unbroken.embedded.Ledgers.Operation;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.NodeProcess;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.HdrHistogram.Histogram;

/**
 * Sagas under chaos: does every saga end in a state its ledgers agree with, when the services it
 * calls fail a fifth of their calls in every way a network can and a gateway node dies mid-run?
 * And what does a plain retrying client leave behind under the same faults? Run by
 * {@code loadtest/saga-chaos.sh}; a {@code main} program, not a test.
 *
 * <p>Design. Three in-memory ledgers ({@link Ledgers}: inventory, payments, shipping) serve from
 * this JVM with {@link ChaosFaults}: 20 % of actions and 20 % of reversals broken by a transient
 * fault (503 before writing; written then 503; written then the connection reset; written then
 * silent for 3 s, past the 1 s step timeout), and each ledger refusing 2 % of refs for good (422).
 * Three clustered gateway nodes ({@link NodeProcess}, from {@code target/unbroken.jar}) on
 * PostgreSQL and Redis run the saga {@code order}: reserve, pay, ship, each with its reversal.
 * {@code bench.sagas} {@code POST /orders} go round robin to the nodes from
 * {@code bench.concurrency} closed-loop lanes; when half are sent the first node (the one that
 * formed the cluster) is killed with {@code kill -9}, and the rest go to the two survivors. The
 * requests it held die with it: their sagas, recorded before their first call, are found in the
 * admin API's listing and matched to the requests by the input's {@code order}.
 *
 * <p>Then the benchmark waits (at most {@code bench.terminalWaitSeconds}) until the summary shows
 * no saga running or compensating, lists every saga, and checks each against the ledgers, whose ref
 * is the saga id: completed means applied exactly once on every ledger and never reversed;
 * compensated means nothing left applied anywhere (applied - reversed = 0) and nothing applied
 * twice; review is listed with its reason. Any ref applied twice anywhere is a failure.
 *
 * <p>In the same run, the naive baseline: as many orders by a client that calls the three ledgers
 * itself (a second, fresh set of ledgers with the same fault mix), in order, retrying each call up
 * to 3 times (4 attempts, the saga's {@code retry.attempts}) on 5xx, timeout or reset with the
 * saga's backoff, a fresh Idempotency-Key per attempt (a client without idempotency discipline; the
 * ledgers insist on a key) and no compensation when a later call fails. Its share of orders left
 * inconsistent (some but not all ledgers applied, or any applied twice) is set beside ours.
 *
 * <p>Usage: {@code SagaChaosBenchmark postgresql://user@127.0.0.1:5432/fresh_database} (the nodes
 * migrate it); no argument with {@code -Dbench.naiveOnly=true}. System properties, with defaults:
 * {@code bench.sagas} 10000, {@code bench.concurrency} 64, {@code bench.seed} 1,
 * {@code bench.naiveOnly} false, {@code bench.redis.url} redis://127.0.0.1:6379,
 * {@code bench.redis.prefix} unbroken-chaos:&lt;millis&gt;, {@code bench.workDir} a temporary
 * directory (node configurations and logs), {@code bench.report} a file to write the report to as
 * well, {@code bench.sendSeconds} 240, {@code bench.terminalWaitSeconds} 180,
 * {@code bench.naiveSeconds} 90 (bounds: whatever is not done by then is reported as such), and
 * {@code unbroken.jar} target/unbroken.jar. Exits 1 when an invariant failed.
 */
public final class SagaChaosBenchmark {

  /** A step of the saga {@code order} and the ledger it writes to. */
  private record Step(String name, String ledger) {}

  private static final List<Step> STEPS = List.of(new Step("reserve", "inventory"), new Step("pay", "payments"),
      new Step("ship", "shipping"));
  private static final List<String> LEDGERS = STEPS.stream().map(Step::ledger).toList();
  private static final double TRANSIENT_ACTIONS = 0.20;
  private static final double TRANSIENT_COMPENSATIONS = 0.20;
  private static final double FINAL_ACTIONS = 0.02;
  private static final Duration SILENCE = Duration.ofSeconds(3);
  /** The saga's retry policy, which the naive client copies so that only the discipline differs. */
  private static final int ATTEMPTS = 4;
  private static final Duration STEP_TIMEOUT = Duration.ofSeconds(1);
  private static final Duration BACKOFF = Duration.ofMillis(50);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(1);
  /** Longer than the saga's 10 s timeout, after which a node answers 202. */
  private static final Duration ORDER_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
  private static final int VICTIM = 0;
  private static final int NO_ANSWER = -1;
  private static final Set<String> TERMINAL = Set.of("completed", "compensated", "review", "resolved");
  private static final String APPLIED_TWICE = "applied twice";
  private static final String LEFT_APPLIED = "left applied under a compensated saga";
  private static final String NOT_EXACTLY_ONCE = "completed but not applied exactly once";

  private record Settings(int sagas, int concurrency, long seed, boolean naiveOnly, Optional<String> databaseUrl,
      String redisUrl, String redisPrefix, Optional<Path> workDir, Optional<Path> report, Duration sendLimit,
      Duration terminalWait, Duration naiveLimit) {

    static Settings fromProperties(String[] args) {
      boolean naiveOnly = Boolean.getBoolean("bench.naiveOnly");
      Optional<String> url = naiveOnly ? Optional.empty()
          : Optional.of(BenchRuns.databaseUrl(args, "SagaChaosBenchmark"));
      return new Settings(BenchRuns.intProperty("bench.sagas", 10_000, 2, 1_000_000),
          BenchRuns.intProperty("bench.concurrency", 64, 1, 4096), Long.getLong("bench.seed", 1), naiveOnly, url,
          System.getProperty("bench.redis.url", "redis://127.0.0.1:6379"),
          System.getProperty("bench.redis.prefix", "unbroken-chaos:" + System.currentTimeMillis()),
          Optional.ofNullable(System.getProperty("bench.workDir")).map(Path::of),
          Optional.ofNullable(System.getProperty("bench.report")).map(Path::of),
          BenchRuns.seconds("bench.sendSeconds", 240, 1, 3600),
          BenchRuns.seconds("bench.terminalWaitSeconds", 180, 1, 3600),
          BenchRuns.seconds("bench.naiveSeconds", 90, 1, 3600));
    }
  }

  /** One answer, body read to its end. */
  private record Reply(int status, MultiMap headers, Buffer body) {

    JsonObject json() {
      try {
        return body.length() == 0 ? new JsonObject() : body.toJsonObject();
      } catch (RuntimeException e) {
        return new JsonObject();
      }
    }
  }

  /** A gateway node: its ports and its process. */
  private record Gateway(String name, int port, int adminPort, int clusterPort, NodeProcess process) {}

  /** One {@code POST /orders} and what came of it; written on the client context only. */
  private static final class OrderRequest {
    final int index;
    final String order;
    final int amount;
    int node;
    long sentNanos;
    long sentMillis;
    long answeredNanos;
    int status = NO_ANSWER;
    String sagaId;
    String sagaStatus;
    String error;

    OrderRequest(int index, String order, int amount) {
      this.index = index;
      this.order = order;
      this.amount = amount;
    }

    /** An answer that already tells the saga's end: its time is the saga's duration. */
    boolean answeredTerminal() {
      return error == null && sagaStatus != null && TERMINAL.contains(sagaStatus) && status != 202;
    }
  }

  /** One naive order: three ledger calls in a row; written on the client context only. */
  private static final class NaiveOrder {
    final String ref;
    final int amount;
    long startedNanos;
    long finishedNanos;
    int stepsAnswered;
    int attempts;

    NaiveOrder(String ref, int amount) {
      this.ref = ref;
      this.amount = amount;
    }
  }

  /** What a ledger holds for one ref. */
  private record Counts(int applied, int reversed, boolean refused) {
    static final Counts NONE = new Counts(0, 0, false);
  }

  /** The outcome of one half, for the side-by-side table. */
  private record Outcome(long operations, long succeeded, long inconsistent, long appliedTwice, String review) {
    double share(long part) {
      return operations == 0 ? Double.NaN : 100.0 * part / operations;
    }
  }

  private final Vertx vertx;
  private final Settings settings;
  private final Report report;
  private final Context context;
  private final HttpClientAgent client;
  private final SplittableRandom amounts;
  private final String runId = Long.toString(System.currentTimeMillis(), 36);
  private final List<NodeProcess> started = new ArrayList<>();
  private boolean invariantsHeld = true;

  private SagaChaosBenchmark(Vertx vertx, Settings settings, Report report) {
    this.vertx = vertx;
    this.settings = settings;
    this.report = report;
    this.context = vertx.getOrCreateContext();
    this.amounts = new SplittableRandom(settings.seed());
    this.client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
        new PoolOptions().setHttp1MaxSize(settings.concurrency()).setMaxWaitQueueSize(-1));
  }

  public static void main(String[] args) throws IOException, InterruptedException {
    Settings settings = Settings.fromProperties(args);
    Report report = new Report();
    report.line("# Saga chaos benchmark, " + Instant.now());
    report.line("");
    report.line("load at start: " + loadAverage() + " (nproc " + Runtime.getRuntime().availableProcessors() + ")");
    report.line(format("settings: %d orders, %d concurrent, seed %d; faults: %.0f %% of actions and %.0f %% of"
            + " reversals transient (503 before writing, written then 503, written then reset, written then silent"
            + " %d s), %.0f %% of refs refused for good per ledger", settings.sagas(), settings.concurrency(),
        settings.seed(), 100 * TRANSIENT_ACTIONS, 100 * TRANSIENT_COMPENSATIONS, SILENCE.toSeconds(),
        100 * FINAL_ACTIONS));
    Vertx vertx = BenchRuns.eventLoops(2);
    SagaChaosBenchmark bench = new SagaChaosBenchmark(vertx, settings, report);
    // A TERM from the script's timeout skips finally blocks but runs hooks: no node outlives the run.
    Thread stopNodes = new Thread(bench::stopNodes, "stop-chaos-nodes");
    Runtime.getRuntime().addShutdownHook(stopNodes);
    boolean held;
    try {
      Optional<Outcome> sagas = settings.naiveOnly() ? Optional.empty() : Optional.of(bench.runSagas());
      Outcome naive = bench.runNaive();
      bench.compare(sagas, naive);
      held = bench.invariantsHeld;
    } finally {
      bench.stopNodes();
      Runtime.getRuntime().removeShutdownHook(stopNodes);
      await(vertx.close(), Duration.ofSeconds(30));
    }
    report.line("");
    report.line("load at end: " + loadAverage());
    report.save(settings.report());
    if (!held) {
      System.exit(1);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The sagas through Unbroken

  private Outcome runSagas() throws IOException, InterruptedException {
    ChaosFaults faults = chaos(settings.seed());
    int ledgerPort = serveLedgers(faults);
    List<Gateway> nodes = startNodes(ledgerPort);
    requireSagaApi(nodes.get(0));
    report.line("");
    report.line(format("## Sagas through Unbroken: 3 clustered nodes, %s killed (kill -9) after half the orders",
        nodes.get(VICTIM).name()));
    report.line("");

    OrderRequest[] requests = new OrderRequest[settings.sagas()];
    Promise<Void> halfway = Promise.promise();
    Duration sendBound = settings.sendLimit().plus(ORDER_TIMEOUT).plusSeconds(30);
    Future<Void> sending = onClient(() -> sendOrders(nodes, requests, halfway));
    await(Future.any(halfway.future(), sending), sendBound);
    boolean killed = halfway.future().succeeded();
    long sentAtKill = -1;
    if (killed) {
      nodes.get(VICTIM).process().kill();
      sentAtKill = await(onClient(() -> Future.succeededFuture(countSent(requests))), Duration.ofSeconds(10));
    }
    await(sending, sendBound);
    List<Gateway> survivors = killed ? nodes.stream().filter(node -> node != nodes.get(VICTIM)).toList() : nodes;
    reportRequests(requests, nodes, sentAtKill);

    long waitStarted = System.nanoTime();
    JsonObject summary = awaitTerminal(survivors);
    double waited = (System.nanoTime() - waitStarted) / 1e9;
    long detectedMillis = System.currentTimeMillis();
    List<JsonObject> sagas = listSagas(survivors.get(0));
    Map<String, OrderRequest> bySaga = attribute(requests, sagas, survivors.get(0));
    Map<String, Map<String, Counts>> books = books(ledgerPort);
    Outcome outcome = checkSagas(sagas, bySaga, books, summary, waited, detectedMillis, requests);
    reportFaults(faults, books);
    return outcome;
  }

  private List<Gateway> startNodes(int ledgerPort) throws IOException {
    Path dir = settings.workDir().isPresent() ? Files.createDirectories(settings.workDir().get())
        : Files.createTempDirectory("unbroken-saga-chaos");
    List<Gateway> planned = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      planned.add(new Gateway("node-" + i, FreePorts.next(), FreePorts.next(), FreePorts.next(), null));
    }
    List<Gateway> nodes = new ArrayList<>();
    // One after the other: the first forms the cluster and the others join it (see ClusterIT).
    for (Gateway node : planned) {
      NodeProcess process = NodeProcess.start(dir, node.name(), nodeYaml(node, planned, ledgerPort));
      synchronized (started) {
        started.add(process);
      }
      nodes.add(new Gateway(node.name(), node.port(), node.adminPort(), node.clusterPort(), process));
    }
    System.out.println("nodes started; configurations and logs in " + dir);
    return nodes;
  }

  private String nodeYaml(Gateway node, List<Gateway> all, int ledgerPort) {
    String members = all.stream().map(member -> "\"127.0.0.1:" + member.clusterPort() + "\"")
        .collect(Collectors.joining(", "));
    String ledgers = "http://127.0.0.1:" + ledgerPort + "/ledgers/";
    StringBuilder steps = new StringBuilder();
    for (Step step : STEPS) {
      steps.append("""
                - name: %s
                  action:     { method: POST, url: "%s%s/entries", body: '{"ref": "${saga.id}", "amount": ${input./amount}}' }
                  compensate: { method: POST, url: "%s%s/reversals", body: '{"ref": "${saga.id}"}' }
          """.formatted(step.name(), ledgers, step.ledger(), ledgers, step.ledger()));
    }
    return """
        server:   { host: 127.0.0.1, port: %d }
        admin:    { host: 127.0.0.1, port: %d }
        redis:    { url: "%s", keyPrefix: "%s" }
        postgres: { url: "%s" }
        cluster:  { enabled: true, host: 127.0.0.1, port: %d, members: [%s] }
        node:     { workerLease: 3s, heartbeat: 1s }
        demo:     { enabled: false }
        routes:
          - prefix: /ledgers
            upstream: http://127.0.0.1:%d
        sagas:
          - name: order
            path: /orders
            timeout: 10s
            retry: { attempts: %d, backoff: %s, maxBackoff: %s }
            stepTimeout: %s
            compensationDeadline: 2m
            steps:
        """.formatted(node.port(), node.adminPort(), settings.redisUrl(), settings.redisPrefix(),
        settings.databaseUrl().orElseThrow(), node.clusterPort(), members, ledgerPort, ATTEMPTS, yaml(BACKOFF),
        yaml(MAX_BACKOFF), yaml(STEP_TIMEOUT)) + steps;
  }

  private static String yaml(Duration duration) {
    return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + "s" : duration.toMillis() + "ms";
  }

  /** Fails at once, saying why, when the jar has no saga engine (its admin API knows no sagas). */
  private void requireSagaApi(Gateway node) {
    Reply reply = await(onClient(() -> call(HttpMethod.GET, node.adminPort(), "/admin/sagas/summary", null,
        ADMIN_TIMEOUT)), ADMIN_TIMEOUT.plusSeconds(5));
    if (reply.status() != 200) {
      throw new IllegalStateException("GET /admin/sagas/summary on " + node.name() + " answered " + reply.status()
          + ": this unbroken.jar has no saga engine; build one that has (mvn -B -q package -DskipTests)");
    }
  }

  /** Closed-loop lanes send every order; the order at half marks the victim down and completes {@code halfway}. */
  private Future<Void> sendOrders(List<Gateway> nodes, OrderRequest[] requests, Promise<Void> halfway) {
    long until = System.nanoTime() + settings.sendLimit().toNanos();
    int[] next = {0};
    List<Future<Void>> lanes = new ArrayList<>();
    for (int lane = 0; lane < settings.concurrency(); lane++) {
      lanes.add(orderLane(nodes, requests, next, until, halfway));
    }
    return Future.join(lanes).mapEmpty();
  }

  private Future<Void> orderLane(List<Gateway> nodes, OrderRequest[] requests, int[] next, long until,
      Promise<Void> halfway) {
    if (next[0] >= requests.length || System.nanoTime() >= until) {
      return Future.succeededFuture();
    }
    int index = next[0]++;
    if (index == requests.length / 2) {
      halfway.tryComplete();
    }
    // From the half on, nothing new goes to the victim: what it holds then dies with it.
    List<Gateway> targets = halfway.future().isComplete()
        ? nodes.stream().filter(node -> node != nodes.get(VICTIM)).toList() : nodes;
    OrderRequest request = new OrderRequest(index, "order-" + runId + "-" + index, 1 + amounts.nextInt(500));
    requests[index] = request;
    Gateway target = targets.get(index % targets.size());
    return postOrder(request, nodes.indexOf(target), target)
        .compose(done -> orderLane(nodes, requests, next, until, halfway));
  }

  private Future<Void> postOrder(OrderRequest request, int node, Gateway gateway) {
    request.node = node;
    request.sentMillis = System.currentTimeMillis();
    request.sentNanos = System.nanoTime();
    Buffer body = new JsonObject().put("order", request.order).put("amount", request.amount).toBuffer();
    return call(HttpMethod.POST, gateway.port(), "/orders", body, ORDER_TIMEOUT)
        .map(reply -> {
          request.answeredNanos = System.nanoTime();
          request.status = reply.status();
          JsonObject json = reply.json();
          request.sagaId = reply.headers().get("X-Saga-Id") != null ? reply.headers().get("X-Saga-Id")
              : json.getString("sagaId");
          request.sagaStatus = json.getValue("sagaStatus") instanceof String problem ? problem
              : json.getValue("status") instanceof String status ? status : null;
          return (Void) null;
        })
        .otherwise(failure -> {
          request.answeredNanos = System.nanoTime();
          request.error = String.valueOf(failure.getMessage());
          return null;
        });
  }

  private static long countSent(OrderRequest[] requests) {
    return Arrays.stream(requests).filter(request -> request != null).count();
  }

  private void reportRequests(OrderRequest[] requests, List<Gateway> nodes, long sentAtKill) {
    Map<String, Long> byStatus = new TreeMap<>();
    long sent = 0;
    long unanswered = 0;
    long unansweredOnVictim = 0;
    for (OrderRequest request : requests) {
      if (request == null) {
        continue;
      }
      sent++;
      String key = request.error == null ? request.status + (request.sagaStatus == null ? "" : " " + request.sagaStatus)
          : "no answer";
      byStatus.merge(key, 1L, Long::sum);
      if (request.error != null) {
        unanswered++;
        unansweredOnVictim += request.node == VICTIM ? 1 : 0;
      }
    }
    report.line(format("- orders sent: %d of %d%s", sent, requests.length,
        sent < requests.length ? " (stopped at the send limit, bench.sendSeconds)" : ""));
    report.line(sentAtKill < 0 ? "- no node was killed (fewer than half of the orders were sent)"
        : format("- %s killed when %d orders had been sent", nodes.get(VICTIM).name(), sentAtKill));
    report.line("- answers by status: " + byStatus);
    report.line(format("- orders without an answer: %d (%d of them on %s)", unanswered, unansweredOnVictim,
        nodes.get(VICTIM).name()));
  }

  /** Polls the summary until nothing runs or compensates, or the wait's bound passes; the last summary. */
  private JsonObject awaitTerminal(List<Gateway> survivors) throws InterruptedException {
    long until = System.nanoTime() + settings.terminalWait().toNanos();
    long nextNote = 0;
    JsonObject summary = new JsonObject();
    while (true) {
      summary = summary(survivors).orElse(summary);
      long active = summary.getLong("running", 0L) + summary.getLong("compensating", 0L);
      if (!summary.isEmpty() && active == 0) {
        return summary;
      }
      if (System.nanoTime() >= until) {
        report.line(format("- GAVE UP waiting after %d s: %s", settings.terminalWait().toSeconds(), summary));
        return summary;
      }
      if (System.nanoTime() >= nextNote) {
        System.out.println("  waiting for sagas to end: " + summary.encode());
        nextNote = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      }
      Thread.sleep(500);
    }
  }

  private Optional<JsonObject> summary(List<Gateway> survivors) {
    for (Gateway node : survivors) {
      try {
        Reply reply = await(onClient(() -> call(HttpMethod.GET, node.adminPort(), "/admin/sagas/summary", null,
            ADMIN_TIMEOUT)), ADMIN_TIMEOUT.plusSeconds(5));
        if (reply.status() == 200) {
          return Optional.of(reply.json());
        }
      } catch (RuntimeException e) {
        // the next survivor may answer
      }
    }
    return Optional.empty();
  }

  /** Every saga the cluster recorded, page after page, ids ascending. */
  private List<JsonObject> listSagas(Gateway node) {
    List<JsonObject> sagas = new ArrayList<>();
    String after = null;
    for (int page = 0; page < 10_000; page++) {
      String uri = "/admin/sagas?limit=1000" + (after == null ? "" : "&after="
          + URLEncoder.encode(after, StandardCharsets.UTF_8));
      Reply reply = await(onClient(() -> call(HttpMethod.GET, node.adminPort(), uri, null, ADMIN_TIMEOUT)),
          ADMIN_TIMEOUT.plusSeconds(5));
      if (reply.status() != 200) {
        throw new IllegalStateException("GET " + uri + " answered " + reply.status() + ": " + reply.body());
      }
      JsonArray listed = reply.json().getJsonArray("sagas", new JsonArray());
      listed.forEach(saga -> sagas.add((JsonObject) saga));
      after = reply.json().getString("next");
      if (after == null || listed.isEmpty()) {
        return sagas;
      }
    }
    throw new IllegalStateException("more than 10,000 pages of sagas");
  }

  /**
   * Which request started each saga: the answered ones by the saga id they were told; the others
   * (their node died, or no answer in time) by the input's order, read from the saga's record.
   */
  private Map<String, OrderRequest> attribute(OrderRequest[] requests, List<JsonObject> sagas, Gateway node) {
    Map<String, OrderRequest> bySaga = new HashMap<>();
    Map<String, OrderRequest> byOrder = new HashMap<>();
    for (OrderRequest request : requests) {
      if (request == null) {
        continue;
      }
      if (request.sagaId != null) {
        bySaga.put(request.sagaId, request);
      } else {
        byOrder.put(request.order, request);
      }
    }
    for (JsonObject saga : sagas) {
      String id = saga.getString("id");
      if (bySaga.containsKey(id) || byOrder.isEmpty()) {
        continue;
      }
      Reply reply = await(onClient(() -> call(HttpMethod.GET, node.adminPort(),
          "/admin/sagas/" + URLEncoder.encode(id, StandardCharsets.UTF_8), null, ADMIN_TIMEOUT)),
          ADMIN_TIMEOUT.plusSeconds(5));
      OrderRequest request = byOrder.remove(orderOf(reply.json().getValue("input")));
      if (request != null) {
        request.sagaId = id;
        bySaga.put(id, request);
      }
    }
    return bySaga;
  }

  private static String orderOf(Object input) {
    if (input instanceof JsonObject json) {
      return json.getString("order");
    }
    if (input instanceof String text) {
      try {
        return new JsonObject(text).getString("order");
      } catch (RuntimeException e) {
        return null;
      }
    }
    return null;
  }

  private Outcome checkSagas(List<JsonObject> sagas, Map<String, OrderRequest> bySaga,
      Map<String, Map<String, Counts>> books, JsonObject summary, double waited, long detectedMillis,
      OrderRequest[] requests) {
    Map<String, Long> byStatus = new TreeMap<>();
    Map<String, Long> reviewReasons = new TreeMap<>();
    List<String> reviewExamples = new ArrayList<>();
    List<String> violations = new ArrayList<>();
    Histogram durations = BenchRuns.nanosHistogram();
    Map<String, Long> contradictions = new TreeMap<>();
    long terminal = 0;
    long inconsistent = 0;
    long disagreeing = 0;
    long fromAnswers = 0;
    long fromRecords = 0;
    long lastTerminalMillis = Long.MIN_VALUE;
    for (JsonObject saga : sagas) {
      String id = saga.getString("id");
      String status = saga.getString("status", "?");
      byStatus.merge(status, 1L, Long::sum);
      List<Counts> counts = LEDGERS.stream().map(ledger -> books.get(ledger).getOrDefault(id, Counts.NONE)).toList();
      List<String> wrong = contradictions(status, counts);
      inconsistent += wrong.isEmpty() ? 0 : 1;
      for (String contradiction : wrong) {
        contradictions.merge(contradiction, 1L, Long::sum);
        violations.add(contradiction + ": saga " + id + " (" + status + ") " + counts);
      }
      if (status.equals("review")) {
        reviewReasons.merge(abbreviate(String.valueOf(saga.getValue("reason")), 100), 1L, Long::sum);
        if (reviewExamples.size() < 10) {
          reviewExamples.add(format("  - %s at step %s: %s; last answer %s; ledgers %s", id, saga.getValue("step"),
              saga.getValue("reason"), abbreviate(String.valueOf(saga.getValue("lastAnswer")), 160), counts));
        }
      }
      if (!TERMINAL.contains(status)) {
        continue;
      }
      terminal++;
      OrderRequest request = bySaga.get(id);
      if (request == null) {
        continue;
      }
      if (request.answeredTerminal() && !request.sagaStatus.equals(status)) {
        disagreeing++;
        violations.add("answered " + request.sagaStatus + " but recorded " + status + ": saga " + id);
      }
      long durationMillis;
      if (request.answeredTerminal()) {
        fromAnswers++;
        durationMillis = (request.answeredNanos - request.sentNanos) / 1_000_000;
      } else {
        fromRecords++;
        durationMillis = epochMillis(saga.getValue("updatedAt")).orElse(detectedMillis) - request.sentMillis;
      }
      durations.recordValue(Math.max(0, durationMillis) * 1_000_000);
      lastTerminalMillis = Math.max(lastTerminalMillis, request.sentMillis + durationMillis);
    }
    Set<String> listed = sagas.stream().map(saga -> saga.getString("id")).collect(Collectors.toSet());
    long strays = books.values().stream().flatMap(book -> book.keySet().stream()).distinct()
        .filter(ref -> !listed.contains(ref)).count();
    long firstSentMillis = Arrays.stream(requests).filter(request -> request != null)
        .mapToLong(request -> request.sentMillis).min().orElse(0);
    long started = sagas.size();
    long attributed = listed.stream().filter(bySaga::containsKey).count();
    long unansweredWithSaga = Arrays.stream(requests)
        .filter(request -> request != null && request.error != null && request.sagaId != null).count();
    long unansweredWithout = Arrays.stream(requests)
        .filter(request -> request != null && request.error != null && request.sagaId == null).count();
    double terminalShare = started == 0 ? Double.NaN : 100.0 * terminal / started;
    double seconds = lastTerminalMillis == Long.MIN_VALUE ? Double.NaN : (lastTerminalMillis - firstSentMillis) / 1000.0;

    report.line(format("- sagas started (listed by the admin API): %d; attributed to an order: %d; to none: %d",
        started, attributed, started - attributed));
    report.line(format("- orders without an answer: %d found in the listing by their input's order (a survivor"
        + " finished them), %d not (their node died before recording the saga)", unansweredWithSaga,
        unansweredWithout));
    report.line(format("- terminal: %d of %d (%.2f %%), %.0f s after the last order was answered; last summary %s",
        terminal, started, terminalShare, waited, summary.encode()));
    report.line("- by status: " + byStatus);
    report.line(format("- %s: %d; %s: %d; %s: %d; answered one status, recorded another: %d; refs in the ledgers"
        + " of no saga: %d", APPLIED_TWICE, contradictions.getOrDefault(APPLIED_TWICE, 0L), LEFT_APPLIED,
        contradictions.getOrDefault(LEFT_APPLIED, 0L), NOT_EXACTLY_ONCE, contradictions.getOrDefault(NOT_EXACTLY_ONCE,
        0L), disagreeing, strays));
    report.line(format("- throughput: %.1f sagas/s (%d terminal sagas from the first order to the last end, %.1f s)",
        terminal / seconds, terminal, seconds));
    report.line(format("- duration from POST to terminal: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d from the answer,"
        + " %d from the record's updatedAt)", percentileMillis(durations, 50), percentileMillis(durations, 99),
        percentileMillis(durations, 100), fromAnswers, fromRecords));
    if (!reviewReasons.isEmpty()) {
      report.line("- review, by reason: " + reviewReasons);
      reviewExamples.forEach(report::line);
    }
    if (terminal < started || started == 0) {
      invariantsHeld = false;
      report.line("- FAILED: not every saga reached a terminal status");
    }
    if (!violations.isEmpty() || strays > 0) {
      invariantsHeld = false;
      report.line(format("- FAILED: %d violation(s), the first ones:", violations.size()));
      violations.stream().limit(20).forEach(violation -> report.line("  - " + violation));
    }
    long completed = byStatus.getOrDefault("completed", 0L);
    return new Outcome(started, completed, inconsistent, contradictions.getOrDefault(APPLIED_TWICE, 0L),
        format("%d (%.2f %%)", byStatus.getOrDefault("review", 0L),
            started == 0 ? Double.NaN : 100.0 * byStatus.getOrDefault("review", 0L) / started));
  }

  /** How the ledgers' counts for one saga contradict its status; empty when they agree. */
  private static List<String> contradictions(String status, List<Counts> counts) {
    List<String> wrong = new ArrayList<>();
    if (counts.stream().anyMatch(count -> count.applied() >= 2)) {
      wrong.add(APPLIED_TWICE);
    }
    if (status.equals("completed") && !counts.stream().allMatch(c -> c.applied() == 1 && c.reversed() == 0)) {
      wrong.add(NOT_EXACTLY_ONCE);
    }
    if (status.equals("compensated") && !counts.stream().allMatch(c -> c.applied() - c.reversed() == 0)) {
      wrong.add(LEFT_APPLIED);
    }
    return wrong;
  }

  private void reportFaults(ChaosFaults faults, Map<String, Map<String, Counts>> books) {
    Map<String, Long> refused = new LinkedHashMap<>();
    books.forEach((ledger, book) -> refused.put(ledger, book.values().stream().filter(Counts::refused).count()));
    Map<Operation, Map<Fault, Long>> injected = faults.injected();
    report.line(format("- faults injected: actions %s; reversals %s; refs refused for good %s",
        new TreeMap<>(injected.get(Operation.ACTION)), new TreeMap<>(injected.get(Operation.COMPENSATION)), refused));
  }

  // ---------------------------------------------------------------------------------------------
  // The naive client

  private Outcome runNaive() {
    ChaosFaults faults = chaos(settings.seed() + 1);
    int ledgerPort = serveLedgers(faults);
    report.line("");
    report.line(format("## Naive client: the 3 ledgers called directly, %d attempts per call on 5xx/timeout/reset,"
        + " a new key per attempt, no compensation", ATTEMPTS));
    report.line("");
    NaiveOrder[] orders = new NaiveOrder[settings.sagas()];
    long started = System.nanoTime();
    await(onClient(() -> sendNaive(ledgerPort, orders)), settings.naiveLimit().plus(SILENCE).plusSeconds(60));
    double seconds = (System.nanoTime() - started) / 1e9;
    Map<String, Map<String, Counts>> books = books(ledgerPort);

    Histogram durations = BenchRuns.nanosHistogram();
    long done = 0;
    long succeeded = 0;
    long partial = 0;
    long twice = 0;
    long inconsistent = 0;
    long succeededButTwice = 0;
    long attempts = 0;
    for (NaiveOrder order : orders) {
      if (order == null) {
        continue;
      }
      done++;
      attempts += order.attempts;
      durations.recordValue(Math.max(0, order.finishedNanos - order.startedNanos));
      List<Counts> counts = LEDGERS.stream().map(ledger -> books.get(ledger).getOrDefault(order.ref, Counts.NONE))
          .toList();
      long applied = counts.stream().filter(count -> count.applied() > 0).count();
      boolean appliedTwice = counts.stream().anyMatch(count -> count.applied() >= 2);
      boolean someNotAll = applied > 0 && applied < LEDGERS.size();
      boolean success = order.stepsAnswered == LEDGERS.size();
      succeeded += success ? 1 : 0;
      partial += someNotAll ? 1 : 0;
      twice += appliedTwice ? 1 : 0;
      inconsistent += someNotAll || appliedTwice ? 1 : 0;
      succeededButTwice += success && appliedTwice ? 1 : 0;
    }
    report.line(format("- orders: %d of %d in %.1f s (%.0f orders/s), %d ledger calls", done, orders.length, seconds,
        done / seconds, attempts));
    report.line(format("- all 3 calls answered 2xx: %d (%.2f %%), of which applied twice somewhere: %d", succeeded,
        100.0 * succeeded / done, succeededButTwice));
    report.line(format("- left inconsistent: %d (%.2f %%): some but not all ledgers applied %d, applied twice %d",
        inconsistent, 100.0 * inconsistent / done, partial, twice));
    report.line(format("- duration of an order: p50 %.0f ms, p99 %.0f ms", percentileMillis(durations, 50),
        percentileMillis(durations, 99)));
    reportFaults(faults, books);
    return new Outcome(done, succeeded, inconsistent, twice, "none: nobody is told");
  }

  private Future<Void> sendNaive(int ledgerPort, NaiveOrder[] orders) {
    long until = System.nanoTime() + settings.naiveLimit().toNanos();
    int[] next = {0};
    List<Future<Void>> lanes = new ArrayList<>();
    for (int lane = 0; lane < settings.concurrency(); lane++) {
      lanes.add(naiveLane(ledgerPort, orders, next, until));
    }
    return Future.join(lanes).mapEmpty();
  }

  private Future<Void> naiveLane(int ledgerPort, NaiveOrder[] orders, int[] next, long until) {
    if (next[0] >= orders.length || System.nanoTime() >= until) {
      return Future.succeededFuture();
    }
    int index = next[0]++;
    NaiveOrder order = new NaiveOrder("naive-" + runId + "-" + index, 1 + amounts.nextInt(500));
    orders[index] = order;
    order.startedNanos = System.nanoTime();
    return naiveSteps(ledgerPort, order, 0)
        .compose(steps -> {
          order.stepsAnswered = steps;
          order.finishedNanos = System.nanoTime();
          return naiveLane(ledgerPort, orders, next, until);
        });
  }

  /** The ledgers from {@code step} on, in order, until one call fails for good; how many were answered 2xx. */
  private Future<Integer> naiveSteps(int ledgerPort, NaiveOrder order, int step) {
    if (step == LEDGERS.size()) {
      return Future.succeededFuture(step);
    }
    return naiveCall(ledgerPort, order, LEDGERS.get(step), 1)
        .compose(ok -> ok ? naiveSteps(ledgerPort, order, step + 1) : Future.succeededFuture(step));
  }

  /** One ledger call, retried on 5xx, timeout or reset, each attempt under a key of its own. */
  private Future<Boolean> naiveCall(int ledgerPort, NaiveOrder order, String ledger, int attempt) {
    order.attempts++;
    Buffer body = new JsonObject().put("ref", order.ref).put("amount", order.amount).toBuffer();
    return call(HttpMethod.POST, ledgerPort, "/ledgers/" + ledger + "/entries", body, STEP_TIMEOUT,
        UUID.randomUUID().toString())
        .map(Reply::status)
        .otherwise(NO_ANSWER)
        .compose(status -> {
          boolean retry = (status == NO_ANSWER || status >= 500) && attempt < ATTEMPTS;
          return retry ? pause(backoff(attempt)).compose(v -> naiveCall(ledgerPort, order, ledger, attempt + 1))
              : Future.succeededFuture(status >= 200 && status < 300);
        });
  }

  private static Duration backoff(int attempt) {
    Duration delay = BACKOFF.multipliedBy(1L << Math.min(20, attempt - 1));
    return delay.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : delay;
  }

  // ---------------------------------------------------------------------------------------------
  // Both

  private void compare(Optional<Outcome> sagas, Outcome naive) {
    report.line("");
    report.line("## Side by side");
    report.line("");
    report.line("| | Unbroken sagas | naive client |");
    report.line("|---|---:|---:|");
    String none = "not run";
    report.line(format("| orders | %s | %d |", sagas.map(s -> Long.toString(s.operations())).orElse(none),
        naive.operations()));
    report.line(format("| success share | %s | %.2f %% |",
        sagas.map(s -> format("%.2f %%", s.share(s.succeeded()))).orElse(none), naive.share(naive.succeeded())));
    report.line(format("| inconsistent share | %s | %.2f %% |",
        sagas.map(s -> format("%.2f %%", s.share(s.inconsistent()))).orElse(none), naive.share(naive.inconsistent())));
    report.line(format("| applied twice | %s | %d |", sagas.map(s -> Long.toString(s.appliedTwice())).orElse(none),
        naive.appliedTwice()));
    report.line(format("| flagged for review | %s | %s |", sagas.map(Outcome::review).orElse(none), naive.review()));
    report.line("");
    report.line("success: the saga completed / all three calls were answered 2xx. inconsistent: the ledgers contradict"
        + " the saga's terminal status / some but not all ledgers applied the order, or one applied it twice.");
    if (sagas.isEmpty()) {
      report.line("");
      report.line("The saga half was not run (bench.naiveOnly).");
    } else {
      report.line("");
      report.line(invariantsHeld ? "Invariants held: every saga terminal, nothing applied twice, nothing left"
          + " applied under a compensated saga." : "INVARIANTS FAILED: see the saga section above.");
    }
  }

  private ChaosFaults chaos(long seed) {
    return new ChaosFaults(seed, TRANSIENT_ACTIONS, TRANSIENT_COMPENSATIONS, FINAL_ACTIONS, SILENCE);
  }

  /** A fresh set of ledgers with {@code faults} on a port of its own; the port. */
  private int serveLedgers(ChaosFaults faults) {
    int port = FreePorts.next();
    await(vertx.createHttpServer().requestHandler(new Ledgers(vertx, faults)).listen(port, "127.0.0.1"),
        Duration.ofSeconds(10));
    return port;
  }

  /** What each ledger holds, ref by ref. */
  private Map<String, Map<String, Counts>> books(int ledgerPort) {
    Map<String, Map<String, Counts>> books = new LinkedHashMap<>();
    for (String ledger : LEDGERS) {
      Reply reply = await(onClient(() -> call(HttpMethod.GET, ledgerPort, "/ledgers/" + ledger, null, ADMIN_TIMEOUT)),
          ADMIN_TIMEOUT.plusSeconds(5));
      Map<String, Counts> book = new HashMap<>();
      reply.json().getJsonObject("entries", new JsonObject()).forEach(entry -> {
        JsonObject counts = (JsonObject) entry.getValue();
        book.put(entry.getKey(), new Counts(counts.getInteger("applied", 0), counts.getInteger("reversed", 0),
            counts.getBoolean("refused", false)));
      });
      books.put(ledger, book);
    }
    return books;
  }

  private Future<Reply> call(HttpMethod method, int port, String uri, Buffer body, Duration timeout) {
    return call(method, port, uri, body, timeout, null);
  }

  /** One request to 127.0.0.1; fails on a reset, or after {@code timeout} of silence. Call on the client context. */
  private Future<Reply> call(HttpMethod method, int port, String uri, Buffer body, Duration timeout, String key) {
    RequestOptions options = new RequestOptions().setMethod(method).setHost("127.0.0.1").setPort(port).setURI(uri)
        .setIdleTimeout(timeout.toMillis());
    if (body != null) {
      options.putHeader("Content-Type", "application/json");
    }
    if (key != null) {
      options.putHeader("Idempotency-Key", key);
    }
    return client.request(options)
        .compose(request -> body == null ? request.send() : request.send(body))
        .compose(response -> response.body().map(answer -> new Reply(response.statusCode(), response.headers(), answer)));
  }

  private Future<Void> pause(Duration delay) {
    Promise<Void> paused = Promise.promise();
    vertx.setTimer(Math.max(1, delay.toMillis()), t -> paused.complete());
    return paused.future();
  }

  /** Runs {@code work} on the client's context, where every request and counter of this benchmark lives. */
  private <T> Future<T> onClient(Supplier<Future<T>> work) {
    Promise<T> result = Promise.promise();
    context.runOnContext(v -> work.get().onComplete(result));
    return result.future();
  }

  private void stopNodes() {
    List<NodeProcess> nodes;
    synchronized (started) {
      nodes = new ArrayList<>(started);
      started.clear();
    }
    nodes.forEach(NodeProcess::close);
  }

  private static OptionalLong epochMillis(Object value) {
    if (value instanceof Number number) {
      long n = number.longValue();
      return OptionalLong.of(n < 100_000_000_000L ? n * 1000 : n);
    }
    if (value instanceof String text) {
      try {
        return OptionalLong.of(Instant.parse(text).toEpochMilli());
      } catch (DateTimeParseException e) {
        try {
          return OptionalLong.of(OffsetDateTime.parse(text).toInstant().toEpochMilli());
        } catch (DateTimeParseException notOffset) {
          return OptionalLong.empty();
        }
      }
    }
    return OptionalLong.empty();
  }

  private static String abbreviate(String text, int max) {
    return text.length() <= max ? text : text.substring(0, max - 1) + "…";
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "unknown (" + e.getMessage() + ")";
    }
  }

  /** The report: printed as it is written, and saved to a file at the end when one was asked for. */
  private static final class Report {
    private final StringBuilder text = new StringBuilder();

    void line(String line) {
      System.out.println(line);
      text.append(line).append('\n');
    }

    void save(Optional<Path> file) throws IOException {
      if (file.isPresent()) {
        Path parent = file.get().toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Files.writeString(file.get(), text, StandardCharsets.UTF_8);
        System.out.println("report written to " + file.get());
      }
    }
  }
}
