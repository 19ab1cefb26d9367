package io.unbroken.admin;

import static io.unbroken.testing.TestNodes.route;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.unbroken.UnbrokenNode;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.platform.RequestIdConverter;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.PrivateRedis;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The admin listener of a node on the real Redis and a fresh PostgreSQL database: health endpoints
 * open to probes, {@code /metrics} only with the admin token and carrying the gateway's per-route
 * meters, the schema migrated at start, and the request id on the log line of a failed exchange.
 * Nodes on a redis-server of the test's own show readiness following that server as it dies,
 * freezes and comes back, and a shutdown that a frozen server cannot hold up.
 */
class AdminIT {

  private static final String TOKEN = "admin-" + UUID.randomUUID();
  /** How long a node may take to notice that a store went away or came back. */
  private static final Duration NOTICE = Duration.ofSeconds(30);
  private static final Pattern LABEL = Pattern.compile("(\\w+)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  @TempDir
  static Path workDir;

  private static Vertx vertx;
  private static Context clientContext;
  private static HttpClientAgent client;
  private static TestUpstream upstream;
  private static UnbrokenConfig config;
  private static UnbrokenNode node;
  private static GatewayLog gatewayLog;
  private static final List<PrivateRedis> privateRedisServers = new CopyOnWriteArrayList<>();
  private static final List<UnbrokenNode> privateRedisNodes = new CopyOnWriteArrayList<>();

  /** A node started by a test, and the port of its admin listener. */
  record Started(UnbrokenNode node, int adminPort) {}

  /** One answer as the client saw it. */
  record Answer(int status, MultiMap headers, Buffer body) {
    JsonObject json() {
      return body.toJsonObject();
    }

    JsonObject problem() {
      assertThat(headers.get("Content-Type")).isEqualTo("application/problem+json");
      return json();
    }
  }

  @BeforeAll
  static void startNode() {
    vertx = Vertx.vertx();
    clientContext = vertx.getOrCreateContext();
    client = vertx.createHttpClient();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    gatewayLog = GatewayLog.attach();
    config = TestNodes.withStores(Optional.of(TestServices.redis("AdminIT")),
        Optional.of(TestServices.freshDatabase("AdminIT")), Optional.of(TOKEN), List.of(
            route("/api", "http://127.0.0.1:" + upstreamPort, Duration.ofSeconds(5), 1024 * 1024),
            route("/dead", "http://127.0.0.1:" + FreePorts.next(), Duration.ofSeconds(5), 1024 * 1024)));
    node = Await.result(UnbrokenNode.start(config));
  }

  @AfterAll
  static void stopEverything() throws InterruptedException {
    // Servers first: a node closing against a frozen server would wait for it.
    for (PrivateRedis server : privateRedisServers) {
      server.close();
    }
    for (UnbrokenNode privateRedisNode : privateRedisNodes) {
      Await.result(privateRedisNode.close().otherwiseEmpty());
    }
    if (node != null) {
      Await.result(node.close());
    }
    gatewayLog.detach();
    Await.result(upstream.close());
    Await.result(vertx.close());
  }

  @Test
  void liveAnswersWithoutAToken() {
    Answer live = get(config.admin().port(), "/health/live", null);

    assertThat(live.status()).isEqualTo(200);
    assertThat(live.json().getString("status")).isEqualTo("UP");
  }

  @Test
  void readyAnswersWithoutATokenAndListsEveryCheckUp() {
    Answer ready = get(config.admin().port(), "/health/ready", null);

    assertThat(ready.status()).isEqualTo(200);
    assertThat(ready.json().getString("status")).isEqualTo("UP");
    Map<String, JsonObject> checks = checksOf(ready);
    assertThat(checks).containsOnlyKeys("draining", "worker-id", "redis", "postgres", "clock");
    assertThat(checks.values()).allSatisfy(check -> assertThat(check.getString("status")).isEqualTo("UP"));
    assertThat(checks.get("clock").getJsonObject("data").fieldNames()).as("the offset to each store, shown")
        .containsExactlyInAnyOrder("redisOffsetSeconds", "postgresOffsetSeconds");
  }

  @Test
  void metricsAreServedOnlyWithTheAdminToken() {
    Answer anonymous = get(config.admin().port(), "/metrics", null);
    Answer wrongToken = get(config.admin().port(), "/metrics", "not-" + TOKEN);
    Answer rightToken = get(config.admin().port(), "/metrics", TOKEN);

    assertThat(anonymous.status()).isEqualTo(401);
    assertThat(anonymous.problem().getString("type")).isEqualTo("urn:unbroken:problem:unauthorized");
    assertThat(anonymous.problem().getInteger("status")).isEqualTo(401);
    assertThat(anonymous.headers().get("WWW-Authenticate")).startsWith("Bearer");
    assertThat(wrongToken.status()).isEqualTo(401);
    assertThat(wrongToken.problem().getString("type")).isEqualTo("urn:unbroken:problem:unauthorized");
    assertThat(wrongToken.headers().get("WWW-Authenticate")).startsWith("Bearer");
    assertThat(rightToken.status()).isEqualTo(200);
    assertThat(rightToken.body().toString()).contains("# TYPE");
  }

  @Test
  void metricsCountRequestsByRouteStatusAndOutcomeAndTimeTheUpstream() {
    for (int i = 0; i < 3; i++) {
      assertThat(proxy("/api/items/" + i).status()).isEqualTo(200);
    }
    assertThat(proxy("/nowhere").status()).isEqualTo(404);
    Map<String, String> forwarded = Map.of("route", "/api", "status", "200", "outcome", "forwarded");
    Map<String, String> rejected = Map.of("route", "none", "status", "404", "outcome", "rejected");

    // A request is counted once its answer is complete, which may be just after the client has it.
    Await.until("the scrape counts every request", NOTICE, () -> {
      String scrape = scrape();
      return sample(scrape, "unbroken_requests_total", forwarded) == 3
          && sample(scrape, "unbroken_requests_total", rejected) == 1;
    });
    String scrape = scrape();
    assertThat(sample(scrape, "unbroken_upstream_latency_seconds_bucket", Map.of("route", "/api", "le", "+Inf")))
        .isEqualTo(3);
    assertThat(sample(scrape, "unbroken_upstream_latency_seconds_count", Map.of("route", "/api"))).isEqualTo(3);
    // One machine: the node's clock and the stores' are the same clock, a round trip apart.
    assertThat(sample(scrape, "unbroken_clock_offset_seconds", Map.of("store", "redis"))).isBetween(-0.5, 0.5);
    assertThat(sample(scrape, "unbroken_clock_offset_seconds", Map.of("store", "postgres"))).isBetween(-0.5, 0.5);
    assertThat(scrape.lines()).as("no peer clock ignored").contains("unbroken_hlc_peers_ignored_total 0.0");
  }

  @Test
  void startMigratedTheFreshDatabase() throws SQLException {
    PgConnectOptions pg = PostgresConnector.connectOptions(config.postgres().orElseThrow());
    String jdbc = "jdbc:postgresql://" + pg.getHost() + ":" + pg.getPort() + "/" + pg.getDatabase();
    try (Connection connection = DriverManager.getConnection(jdbc, pg.getUser(), pg.getPassword());
         Statement statement = connection.createStatement()) {
      List<Boolean> versionOne = new ArrayList<>();
      try (ResultSet rows = statement.executeQuery("SELECT success FROM flyway_schema_history WHERE version = '1'")) {
        while (rows.next()) {
          versionOne.add(rows.getBoolean(1));
        }
      }
      assertThat(versionOne).as("Flyway history rows of version 1").containsExactly(true);
      try (ResultSet tables = statement.executeQuery(
          "SELECT to_regclass('events') IS NOT NULL, to_regclass('streams') IS NOT NULL")) {
        assertThat(tables.next()).isTrue();
        assertThat(tables.getBoolean(1)).as("table events exists").isTrue();
        assertThat(tables.getBoolean(2)).as("table streams exists").isTrue();
      }
    }
  }

  @Test
  void failedExchangeIsLoggedWithTheRequestIdItsClientWasGiven() {
    Answer answer = proxy("/dead/order/9");

    assertThat(answer.status()).isEqualTo(502);
    String requestId = answer.headers().get("X-Request-Id");
    assertThat(requestId).isNotBlank();
    Await.until("the gateway logs the failed exchange", NOTICE,
        () -> gatewayLog.lines.stream().anyMatch(line -> line.contains("/dead/order/9 failed")));
    assertThat(gatewayLog.lines).filteredOn(line -> line.contains("/dead/order/9 failed"))
        .singleElement().asString().startsWith("[req=" + requestId + "] ");
  }

  @Test
  @Timeout(120)
  void readinessFollowsRedisGoingAwayAndComingBack() throws IOException, InterruptedException {
    PrivateRedis server = startPrivateRedis();
    UnbrokenConfig.Redis redis = server.settings("AdminIT-private");
    Started redisNode = startNodeOn(redis);
    int admin = redisNode.adminPort();

    Answer ready = get(admin, "/health/ready", null);
    assertThat(ready.status()).isEqualTo(200);
    assertThat(checksOf(ready)).containsOnlyKeys("draining", "worker-id", "redis", "clock");

    server.kill();
    Answer down = awaitReadiness(admin, 503, "readiness reports Redis gone");
    assertThat(down.json().getString("status")).isEqualTo("DOWN");
    JsonObject redisCheck = checksOf(down).get("redis");
    assertThat(redisCheck.getString("status")).isEqualTo("DOWN");
    assertThat(redisCheck.getJsonObject("data").getString("reason")).isNotBlank();

    // Back on the same port but empty: the client has to reconnect, and the worker-id lease the
    // node held is gone with the old server's data, so the node has to lease an id anew.
    server.restart();
    Redis probe = Redis.createClient(vertx, redis.url());
    try {
      Await.until("the node is ready again and holds a lease in the restarted Redis", NOTICE,
          () -> get(admin, "/health/ready", null).status() == 200
              && leaseOwners(probe, redis.keyPrefix()).contains(redisNode.node().nodeId()));
    } finally {
      Await.result(probe.close());
    }
    Answer again = get(admin, "/health/ready", null);
    assertThat(checksOf(again).values())
        .allSatisfy(check -> assertThat(check.getString("status")).isEqualTo("UP"));
  }

  @Test
  @Timeout(120)
  void redisThatStopsAnsweringMakesTheNodeNotReadyWithAReason() throws IOException, InterruptedException {
    PrivateRedis server = startPrivateRedis();
    int admin = startNodeOn(server.settings("AdminIT-private")).adminPort();
    assertThat(get(admin, "/health/ready", null).status()).isEqualTo(200);

    // A frozen server keeps its connections open and answers nothing, as a hung host would.
    server.signal("STOP");
    AtomicReference<Answer> stalled = new AtomicReference<>();
    Await.until("readiness reports Redis not answering", NOTICE, () -> {
      stalled.set(get(admin, "/health/ready", null));
      return "DOWN".equals(checksOf(stalled.get()).get("redis").getString("status"));
    });
    assertThat(stalled.get().status()).isEqualTo(503);
    assertThat(checksOf(stalled.get()).get("redis").getJsonObject("data").getString("reason")).isNotBlank();

    server.signal("CONT");
    awaitReadiness(admin, 200, "the node is ready again once Redis answers");
  }

  @Test
  @Timeout(120)
  void nodeShutsDownWhileRedisIsFrozen() throws IOException, InterruptedException {
    PrivateRedis server = startPrivateRedis();
    Started redisNode = startNodeOn(server.settings("AdminIT-private"));

    server.signal("STOP");

    // Giving the worker id back cannot succeed; the lease runs out by itself instead.
    Await.result(redisNode.node().close(), NOTICE);
  }

  /** A node on {@code redis} alone (no PostgreSQL, no routes); closed after all tests. */
  private static Started startNodeOn(UnbrokenConfig.Redis redis) {
    UnbrokenConfig redisOnly =
        TestNodes.withStores(Optional.of(redis), Optional.empty(), Optional.of(TOKEN), List.of());
    UnbrokenNode started = Await.result(UnbrokenNode.start(redisOnly));
    privateRedisNodes.add(started);
    return new Started(started, redisOnly.admin().port());
  }

  private static Answer awaitReadiness(int adminPort, int status, String what) {
    AtomicReference<Answer> last = new AtomicReference<>();
    Await.until(what, NOTICE, () -> {
      last.set(get(adminPort, "/health/ready", null));
      return last.get().status() == status;
    });
    return last.get();
  }

  /** The owners of every lease key under {@code keyPrefix} (a private server, so KEYS is harmless). */
  private static List<String> leaseOwners(Redis redis, String keyPrefix) {
    Response keys = onClientContext(() -> redis.send(Request.cmd(Command.KEYS).arg(keyPrefix + ":*")));
    List<String> owners = new ArrayList<>();
    for (Response key : keys) {
      Response owner = onClientContext(() -> redis.send(Request.cmd(Command.GET).arg(key.toString())));
      if (owner != null) {
        owners.add(owner.toString());
      }
    }
    return owners;
  }

  /** Starts this test's own redis-server; killed after all tests. */
  private static PrivateRedis startPrivateRedis() throws IOException {
    PrivateRedis server = PrivateRedis.start(workDir);
    privateRedisServers.add(server);
    return server;
  }

  private static Map<String, JsonObject> checksOf(Answer readiness) {
    Map<String, JsonObject> checks = new HashMap<>();
    readiness.json().getJsonArray("checks").forEach(check ->
        checks.put(((JsonObject) check).getString("id"), (JsonObject) check));
    return checks;
  }

  private static String scrape() {
    Answer metrics = get(config.admin().port(), "/metrics", TOKEN);
    assertThat(metrics.status()).isEqualTo(200);
    return metrics.body().toString();
  }

  /**
   * The value of the Prometheus sample {@code name} whose labels include {@code labels}, or NaN
   * when the scrape has none; label order does not matter.
   */
  private static double sample(String scrape, String name, Map<String, String> labels) {
    return scrape.lines()
        .filter(line -> line.startsWith(name + "{"))
        .filter(line -> labelsOf(line).entrySet().containsAll(labels.entrySet()))
        .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf('}') + 1).trim().split(" ")[0]))
        .findFirst()
        .orElse(Double.NaN);
  }

  private static Map<String, String> labelsOf(String line) {
    Map<String, String> labels = new HashMap<>();
    Matcher label = LABEL.matcher(line.substring(line.indexOf('{') + 1, line.lastIndexOf('}')));
    while (label.find()) {
      labels.put(label.group(1), label.group(2));
    }
    return labels;
  }

  private static Answer proxy(String uri) {
    return send(new RequestOptions().setHost("127.0.0.1").setPort(config.server().port()).setURI(uri));
  }

  private static Answer get(int port, String uri, String token) {
    RequestOptions options = new RequestOptions().setHost("127.0.0.1").setPort(port).setURI(uri);
    if (token != null) {
      options.putHeader("Authorization", "Bearer " + token);
    }
    return send(options);
  }

  private static Answer send(RequestOptions options) {
    return onClientContext(() -> client.request(options.setMethod(HttpMethod.GET))
        .compose(HttpClientRequest::send)
        .compose(response -> response.body().map(b -> new Answer(response.statusCode(), response.headers(), b))));
  }

  /**
   * Runs client calls on one event-loop context, as a verticle would. Driving the client from the
   * test thread let an answer go unnoticed now and then.
   */
  private static <T> T onClientContext(Supplier<Future<T>> call) {
    Promise<T> done = Promise.promise();
    clientContext.runOnContext(v -> call.get().onComplete(done));
    return Await.result(done.future());
  }

  /**
   * The gateway's log lines, each rendered at the moment it is logged the way the node's log
   * pattern renders it: {@code [req=<request id>] <message>}. The request id is read from the
   * logging context, so it has to be rendered then, not when the test looks.
   */
  private static final class GatewayLog extends AppenderBase<ILoggingEvent> {

    private static final String LOGGER = "io.unbroken.gateway";

    final List<String> lines = new CopyOnWriteArrayList<>();
    private final RequestIdConverter requestId = new RequestIdConverter();

    static GatewayLog attach() {
      Logger logger = (Logger) LoggerFactory.getLogger(LOGGER);
      GatewayLog log = new GatewayLog();
      log.setContext(logger.getLoggerContext());
      log.start();
      logger.addAppender(log);
      return log;
    }

    void detach() {
      ((Logger) LoggerFactory.getLogger(LOGGER)).detachAppender(this);
      stop();
    }

    @Override
    protected void append(ILoggingEvent event) {
      lines.add("[req=" + requestId.convert(event) + "] " + event.getFormattedMessage());
    }
  }
}
