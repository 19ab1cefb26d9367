package io.unbroken.zombie;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.NodeProcess;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgConnectOptions;
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
import java.util.Set;
import java.util.UUID;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Three clustered nodes in JVMs of their own on one Redis and one PostgreSQL. Any node lists what
 * every node has in flight and cancels a request another node runs (its upstream call is reset);
 * and when a node is killed with {@code kill -9} in the middle of long requests, every request it
 * accepted ends with exactly one terminal event, by the reaper on a survivor, within its liveness
 * lease and a reaper interval, while the survivors' own requests complete; the killed node's
 * idempotency keys are free for retries on the survivors, which then get one answer per key.
 */
@Timeout(300)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ZombieNodesIT {

  private static final Logger log = LoggerFactory.getLogger(ZombieNodesIT.class);
  private static final Duration LEASE = Duration.ofSeconds(2);
  private static final Duration HEARTBEAT = Duration.ofMillis(500);
  // Room for a loaded machine on top of the bound itself; the time taken is logged.
  private static final Duration SLACK = Duration.ofSeconds(8);
  private static final Set<String> TERMINAL =
      Set.of("RequestCompleted", "RequestFailed", "RequestCancelled", "RequestAbandoned");

  @TempDir
  static Path dir;

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenConfig.Postgres database;
  private static final List<Node> nodes = new ArrayList<>();

  /** One node: its process and clients for its listener and admin API. */
  private record Node(String name, NodeProcess process, TestClient client, TestClient admin) {}

  @BeforeAll
  static void startCluster() throws Exception {
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    ZombieCluster.serveLongAndPay(vertx, upstream);
    UnbrokenConfig.Redis redis = TestServices.redis("zombie-nodes");
    database = TestServices.freshDatabase("zombie_nodes");
    List<Integer> clusterPorts = IntStream.range(0, 3).mapToObj(i -> FreePorts.next()).toList();
    for (int i = 0; i < 3; i++) {
      nodes.add(start("node-" + (char) ('a' + i), clusterPorts.get(i), clusterPorts, redis, upstreamPort));
    }
    Await.until("the three nodes see each other live", Duration.ofSeconds(30),
        () -> inflight(nodes.get(0), "").getJsonArray("nodes").size() == 3);
  }

  @AfterAll
  static void stopCluster() {
    nodes.forEach(node -> node.process().close());
    Await.result(vertx.close());
  }

  private static Node start(String name, int clusterPort, List<Integer> clusterPorts, UnbrokenConfig.Redis redis,
      int upstreamPort) throws Exception {
    int port = FreePorts.next();
    int adminPort = FreePorts.next();
    String yaml = ZombieCluster.nodeYaml(port, adminPort, Duration.ofSeconds(30), redis, database, LEASE, HEARTBEAT,
        clusterPort, clusterPorts, upstreamPort);
    NodeProcess process = NodeProcess.start(dir, name, yaml);
    return new Node(name, process, new TestClient(vertx, port, 64), new TestClient(vertx, adminPort, 4));
  }

  @Test
  @Order(1)
  void anyNodeListsEveryNodesRequestsAndCancelsOneAnotherNodeRuns() {
    Node runner = nodes.get(1);
    Node operator = nodes.get(2);
    String path = "/long/cancel-me-" + UUID.randomUUID();
    Future<Answer> hanging = runner.client().begin(HttpMethod.GET, path);
    Await.until("the request reached the upstream", Duration.ofSeconds(10), () -> received(path) != null);

    JsonObject listed = inflight(operator, "");
    JsonObject running = InflightListing.requestAt(listed, path);
    assertThat(running).as("the request in the cluster-wide list, asked of another node: %s", listed).isNotNull();
    assertThat(running.getString("phase")).isEqualTo("forwarding");
    assertThat(running.getString("route")).isEqualTo("/long");
    String runnerId = running.getString("node");
    JsonObject onlyRunner = inflight(operator, "?node=" + runnerId);
    assertThat(onlyRunner.getJsonArray("nodes")).hasSize(1);
    assertThat(InflightListing.requestAt(onlyRunner, path)).isNotNull();

    String requestId = running.getString("requestId");
    long askedAt = System.nanoTime();
    Answer cancelled = operator.admin().call(HttpMethod.DELETE, "/admin/requests/" + requestId);
    assertThat(cancelled.status()).as("cancel: %s", cancelled.body()).isEqualTo(202);
    assertThat(cancelled.json().getString("node")).isEqualTo(runnerId);
    TestUpstream.Received call = received(path);
    Await.until("the upstream saw its connection closed", SLACK, () -> call.closedBeforeAnswer);
    log.info("Cancelled from another node: the upstream saw its connection closed {} ms after the DELETE",
        (System.nanoTime() - askedAt) / 1_000_000);

    Answer client = Await.result(hanging);
    assertThat(client.status()).isEqualTo(503);
    assertThat(client.problem().getString("type")).endsWith("request-cancelled");
    Await.until("RequestCancelled by operator recorded", SLACK, () -> lastEventOf(operator, requestId)
        .map(event -> event.getString("type").equals("RequestCancelled")
            && "operator".equals(event.getJsonObject("data").getString("by")))
        .orElse(false));
    Answer again = operator.admin().call(HttpMethod.DELETE, "/admin/requests/" + requestId);
    assertThat(again.status()).as("cancel of a finished request: %s", again.body()).isEqualTo(409);
    Answer unknown = operator.admin().call(HttpMethod.DELETE, "/admin/requests/4242");
    assertThat(unknown.status()).isEqualTo(404);
  }

  @Test
  @Order(2)
  void anAsyncRequestIsAnsweredThroughItsMonitorOnAnotherNodeAndCancelledOnceItsClientStopsPolling() {
    Node runner = nodes.get(1);
    Node poller = nodes.get(2);
    MultiMap respondAsync = MultiMap.caseInsensitiveMultiMap().add("Prefer", "respond-async");
    String job = "/async/job-" + UUID.randomUUID();
    Answer accepted = runner.client().call(HttpMethod.POST, job + "?ms=1500", respondAsync, Buffer.buffer("{}"));
    assertThat(accepted.status()).isEqualTo(202);
    assertThat(accepted.headers().get("Preference-Applied")).isEqualTo("respond-async");
    String monitor = accepted.headers().get("Location");
    assertThat(monitor).isEqualTo("/unbroken/monitors/" + accepted.requestId());
    Answer done = pollUntilSettled(poller, monitor);
    assertThat(done.status()).as("the upstream's answer, from another node's listener").isEqualTo(200);
    assertThat(done.body().toString()).isEqualTo("done " + job);
    assertThat(done.requestId()).isEqualTo(accepted.requestId());
    assertThat(received(job + "?ms=1500").headers.contains("Prefer")).as("the preference was applied here").isFalse();

    String hang = "/async/hang-" + UUID.randomUUID();
    Answer running = runner.client().call(HttpMethod.POST, hang, respondAsync, Buffer.buffer("{}"));
    String hangMonitor = running.headers().get("Location");
    Await.until("the request reached the upstream", Duration.ofSeconds(10), () -> received(hang) != null);
    for (int i = 0; i < 3; i++) {
      assertThat(poller.client().get(hangMonitor).status()).as("still running, polled").isEqualTo(202);
      Await.result(vertx.timer(500));
    }
    assertThat(poller.client().get(hangMonitor).status()).isEqualTo(202);
    long lastPoll = System.nanoTime();
    Await.until("the upstream call of the abandoned request is reset", ZombieCluster.ASYNC_HEARTBEAT.plus(SLACK),
        () -> received(hang).closedBeforeAnswer);
    log.info("Async request without polls: its upstream call was reset {} ms after the last poll (heartbeat {} ms)",
        (System.nanoTime() - lastPoll) / 1_000_000, ZombieCluster.ASYNC_HEARTBEAT.toMillis());
    Await.until("the monitor says why it ended", SLACK, () -> poller.client().get(hangMonitor).status() == 410);
    Answer gone = poller.client().get(hangMonitor);
    assertThat(gone.problem().getString("reason")).isEqualTo("client-heartbeat-lost");
    Await.until("RequestCancelled by client-heartbeat-lost recorded", SLACK, () -> lastEventOf(poller,
        running.requestId()).map(event -> "client-heartbeat-lost".equals(event.getJsonObject("data").getString("by")))
        .orElse(false));
  }

  private static Answer pollUntilSettled(Node node, String monitor) {
    Await.until("the monitor has the answer", Duration.ofSeconds(20), () -> node.client().get(monitor).status() != 202);
    return node.client().get(monitor);
  }

  @Test
  @Order(3)
  void everyRequestOfAKilledNodeEndsOnceAndItsKeysAreFreeForRetriesOnTheSurvivors() throws Exception {
    Node victim = nodes.get(0);
    upstream.clear();
    List<Future<Answer>> survivorCalls = new ArrayList<>();
    for (Node survivor : nodes.subList(1, 3)) {
      for (int i = 0; i < 6; i++) {
        survivorCalls.add(survivor.client().begin(HttpMethod.GET, "/long/" + survivor.name() + "-" + i + "?ms=4000"));
      }
    }
    for (int i = 0; i < 6; i++) {
      victim.client().begin(HttpMethod.GET, "/long/victim-" + i);
    }
    List<String> keys = IntStream.range(0, 4).mapToObj(i -> "key-" + UUID.randomUUID()).toList();
    keys.forEach(key -> victim.client().startOnContext(() -> victim.client().send(HttpMethod.POST, "/pay/" + key,
        keyHeader(key), Buffer.buffer("{\"amount\":7}"))));
    Await.until("every request reached the upstream", Duration.ofSeconds(20), () -> upstream.received().size() == 22);

    victim.process().kill();
    long killedAt = System.nanoTime();
    Await.until("the killed node's 6 + 4 requests are abandoned", LEASE.plus(HEARTBEAT).plus(SLACK),
        () -> countBy("SELECT stream_id FROM events WHERE type = 'RequestAbandoned'").size() == 10);
    log.info("Every request of the killed node ended {} ms after kill -9 (bound: workerLease {} ms + reaper interval {} ms)",
        (System.nanoTime() - killedAt) / 1_000_000, LEASE.toMillis(), HEARTBEAT.toMillis());
    Await.until("the survivors' requests have ended too", SLACK, () -> requestsWithoutTerminalEvent() == 0);

    Map<String, Integer> terminalCounts = terminalEventsPerRequest();
    assertThat(terminalCounts.values()).as("terminal events per request").containsOnly(1);
    Map<String, Long> abandoned = countBy("SELECT data->>'deadNode' FROM events WHERE type = 'RequestAbandoned'");
    assertThat(abandoned).as("requests abandoned, by dead node").hasSize(1);
    assertThat(abandoned.values().iterator().next()).as("the killed node's 6 + 4 requests").isEqualTo(10);
    assertThat(countBy("SELECT stream_id FROM streams WHERE inflight IS NOT NULL")).as("in-flight rows left").isEmpty();
    for (Future<Answer> call : survivorCalls) {
      assertThat(Await.result(call).status()).as("a survivor's own request").isEqualTo(200);
    }

    for (String key : keys) {
      Answer retried = nodes.get(1).client().call(HttpMethod.POST, "/pay/" + key, keyHeader(key),
          Buffer.buffer("{\"amount\":7}"));
      assertThat(retried.status()).as("a retry of the killed node's key on a survivor").isEqualTo(201);
      Answer again = nodes.get(2).client().call(HttpMethod.POST, "/pay/" + key, keyHeader(key),
          Buffer.buffer("{\"amount\":7}"));
      assertThat(again.status()).isEqualTo(201);
      assertThat(again.headers().get("Idempotent-Replayed")).isEqualTo("true");
      assertThat(again.body()).as("one answer per key").isEqualTo(retried.body());
    }
  }

  private static MultiMap keyHeader(String key) {
    return MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key);
  }

  private static TestUpstream.Received received(String uri) {
    return upstream.received().stream().filter(r -> r.uri.equals(uri)).findFirst().orElse(null);
  }

  private static JsonObject inflight(Node node, String query) {
    Answer answer = node.admin().get("/admin/inflight" + query);
    assertThat(answer.status()).as("GET /admin/inflight: %s", answer.body()).isEqualTo(200);
    return answer.json();
  }

  private static Optional<JsonObject> lastEventOf(Node node, String requestId) {
    JsonArray events = node.admin().get("/admin/requests/" + requestId).json().getJsonArray("events");
    return events.isEmpty() ? Optional.empty()
        : Optional.of(events.getJsonObject(events.size() - 1));
  }

  private static long requestsWithoutTerminalEvent() {
    return countBy("SELECT stream_id FROM events WHERE type = 'RequestForwarded'").keySet().stream()
        .filter(stream -> !terminalEventsPerRequest().containsKey(stream)).count();
  }

  private static Map<String, Integer> terminalEventsPerRequest() {
    Map<String, Integer> counts = new HashMap<>();
    countBy("SELECT stream_id FROM events WHERE type IN ('" + String.join("', '", TERMINAL) + "')")
        .forEach((stream, count) -> counts.put(stream, count.intValue()));
    return counts;
  }

  /** The values of a one-column query, each with how often it came up. */
  private static Map<String, Long> countBy(String sql) {
    PgConnectOptions options = PgConnectOptions.fromUri(database.url());
    String jdbc = "jdbc:postgresql://" + options.getHost() + ":" + options.getPort() + "/" + options.getDatabase();
    Map<String, Long> counts = new HashMap<>();
    try (Connection connection = DriverManager.getConnection(jdbc, options.getUser(), options.getPassword());
         Statement statement = connection.createStatement();
         ResultSet rows = statement.executeQuery(sql)) {
      while (rows.next()) {
        counts.merge(rows.getString(1), 1L, Long::sum);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot query " + jdbc, e);
    }
    return counts;
  }
}
