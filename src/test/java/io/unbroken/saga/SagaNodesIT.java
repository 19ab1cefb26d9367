package io.unbroken.saga;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.embedded.Ledgers;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.NodeProcess;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestServices;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 * Three clustered nodes in JVMs of their own on one Redis and one PostgreSQL. A node is killed
 * with {@code kill -9} while its sagas wait for their first step's answer (which the ledger has
 * already applied): the survivors take the sagas over once the dead node's leases end, make the
 * unanswered call again under the same Idempotency-Key, and finish every saga; the ledgers show
 * every action applied once, and those of the sagas meant to fail reversed once.
 */
@Timeout(240)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SagaNodesIT {

  private static final Logger log = LoggerFactory.getLogger(SagaNodesIT.class);
  private static final Duration LEASE = Duration.ofSeconds(4);
  // Well under the lease: sagas handed on at a stop are resumed by a survivor's next heartbeat.
  private static final Duration HANDED_ON_WITHIN = Duration.ofSeconds(2);
  private static final Duration HEARTBEAT = Duration.ofMillis(500);
  private static final SwitchableFaults faults = new SwitchableFaults(Duration.ofSeconds(10));

  @TempDir
  static Path dir;

  private static Vertx vertx;
  private static TestClient ledgers;
  private static final List<Node> nodes = new ArrayList<>();

  private record Node(NodeProcess process, TestClient client, TestClient admin) {}

  @BeforeAll
  static void startCluster() throws Exception {
    vertx = Vertx.vertx();
    int ledgerPort = FreePorts.next();
    Await.result(vertx.createHttpServer().requestHandler(new Ledgers(vertx, faults)).listen(ledgerPort, "127.0.0.1"));
    ledgers = new TestClient(vertx, ledgerPort, 4);
    UnbrokenConfig.Redis redis = TestServices.redis("saga-nodes");
    UnbrokenConfig.Postgres database = TestServices.freshDatabase("saga_nodes");
    List<Integer> clusterPorts = IntStream.range(0, 3).mapToObj(i -> FreePorts.next()).toList();
    String members = String.join(", ", clusterPorts.stream().map(p -> "\"127.0.0.1:" + p + "\"").toList());
    for (int i = 0; i < 3; i++) {
      int port = FreePorts.next();
      int adminPort = FreePorts.next();
      String yaml = """
          server:   { host: 127.0.0.1, port: %d, instances: 1, drainTimeout: 1s }
          admin:    { host: 127.0.0.1, port: %d }
          redis:    { url: "%s", keyPrefix: "%s" }
          postgres: { url: "%s", poolSize: 4 }
          node:     { workerLease: %dms, heartbeat: %dms }
          cluster:  { enabled: true, host: 127.0.0.1, port: %d, members: [%s] }
          demo:     { enabled: false }
          routes:
            - { prefix: /ledgers, upstream: "http://127.0.0.1:%d" }
          """.formatted(port, adminPort, redis.url(), redis.keyPrefix(), database.url(), LEASE.toMillis(),
          HEARTBEAT.toMillis(), clusterPorts.get(i), members, ledgerPort)
          + SagaYaml.orderSaga(ledgerPort, "30s", "20s", "1m");
      NodeProcess process = NodeProcess.start(dir, "node-" + (char) ('a' + i), yaml);
      nodes.add(new Node(process, new TestClient(vertx, port, 16), new TestClient(vertx, adminPort, 4)));
    }
  }

  @AfterAll
  static void stopCluster() {
    nodes.forEach(node -> node.process().close());
    Await.result(vertx.close());
  }

  @Test
  @Order(1)
  void theSagasOfAKilledNodeAreResumedElsewhereAndEveryCallAppliesOnce() throws Exception {
    int sagas = 6;
    Node doomed = nodes.get(0);
    Node survivor = nodes.get(1);
    List<String> ids = waitingOnTheirFirstCall(doomed, survivor, sagas, 3);

    doomed.process().kill();
    long killed = System.nanoTime();
    awaitEnded(survivor, ids);
    log.info("{} sagas of the killed node ended on the survivors {} ms after the kill (lease {} ms)", sagas,
        (System.nanoTime() - killed) / 1_000_000, LEASE.toMillis());

    assertEveryCallAppliedOnce(survivor, ids);
  }

  /**
   * A node that stops gives its sagas' leases back as it leaves, after its drain: a survivor takes
   * them at its next heartbeat, not a lease later.
   */
  @Test
  @Order(2)
  void theSagasOfAStoppingNodeAreHandedOnAtOnce() {
    int sagas = 4;
    Node stopping = nodes.get(2);
    Node survivor = nodes.get(1);
    List<String> ids = waitingOnTheirFirstCall(stopping, survivor, sagas, 2);

    stopping.process().close();
    long stopped = System.nanoTime();
    // Its lease was extended to at least LEASE after the stop's last heartbeat: without the hand-on
    // a survivor could not take the sagas for well over HANDED_ON_WITHIN.
    Await.until("every saga resumed on the survivor", HANDED_ON_WITHIN, () -> ids.stream()
        .allMatch(id -> saga(survivor, id).getJsonArray("events").stream().map(JsonObject.class::cast)
            .anyMatch(e -> e.getString("type").equals("SagaResumed"))));
    log.info("A stopping node's {} sagas resumed on the survivor {} ms after its stop (lease {} ms)", sagas,
        (System.nanoTime() - stopped) / 1_000_000, LEASE.toMillis());
    awaitEnded(survivor, ids);

    assertEveryCallAppliedOnce(survivor, ids);
  }

  /**
   * Starts {@code sagas} on {@code starter}, every {@code failEvery}th meant to fail at its last
   * step, whose first calls the ledger applies and then leaves unanswered; their ids, once every
   * one is waiting on that answer.
   */
  private static List<String> waitingOnTheirFirstCall(Node starter, Node observer, int sagas, int failEvery) {
    faults.breakActions(Ledgers.Fault.SILENT_AFTER, sagas);
    for (int i = 0; i < sagas; i++) {
      JsonObject input = new JsonObject().put("amount", i + 1).put("failship", i % failEvery == 0);
      starter.client().send(HttpMethod.POST, "/orders", MultiMap.caseInsensitiveMultiMap(), input.toBuffer());
    }
    Await.until("every saga waits for its first answer", Duration.ofSeconds(30),
        () -> running(observer).size() == sagas && running(observer).stream()
            .allMatch(id -> "1 applied, 0 reversed".equals(entry("inventory", id))));
    return running(observer);
  }

  private static void awaitEnded(Node survivor, List<String> ids) {
    Await.until("every saga ended on a survivor", Duration.ofSeconds(60), () -> ids.stream()
        .allMatch(id -> List.of("completed", "compensated").contains(saga(survivor, id).getString("status"))));
  }

  private static void assertEveryCallAppliedOnce(Node survivor, List<String> ids) {
    for (String id : ids) {
      JsonObject saga = saga(survivor, id);
      boolean meantToFail = saga.getJsonObject("input").getBoolean("failship");
      String expected = meantToFail ? "1 applied, 1 reversed" : "1 applied, 0 reversed";
      assertThat(saga.getString("status")).isEqualTo(meantToFail ? "compensated" : "completed");
      assertThat(entry("inventory", id)).as("resent under its key: applied once").isEqualTo(expected);
      assertThat(entry("payments", id)).isEqualTo(expected);
      assertThat(entry("shipping", id)).isEqualTo(meantToFail ? "0 applied, 0 reversed" : "1 applied, 0 reversed");
      List<JsonObject> events = saga.getJsonArray("events").stream().map(JsonObject.class::cast).toList();
      String starter = events.get(0).getJsonObject("data").getString("node");
      JsonObject resumed = events.stream().filter(e -> e.getString("type").equals("SagaResumed")).findFirst().orElseThrow();
      assertThat(resumed.getJsonObject("data").getString("node")).isNotEqualTo(starter);
      assertThat(resumed.getJsonObject("data").getLong("fence")).isEqualTo(2L);
      assertThat(resumed.getJsonObject("metadata").getString("node")).isNotEqualTo(starter);
      assertThat(events.stream().filter(e -> e.getString("type").equals("SagaResumed"))).as("resumed once").hasSize(1);
    }
  }

  private static List<String> running(Node node) {
    TestClient.Answer answer = node.admin().get("/admin/sagas?status=running");
    return answer.json().getJsonArray("sagas").stream().map(s -> ((JsonObject) s).getString("id")).toList();
  }

  private static JsonObject saga(Node node, String id) {
    return node.admin().get("/admin/sagas/" + id).json();
  }

  private static String entry(String ledger, String ref) {
    TestClient.Answer answer = ledgers.get("/ledgers/" + ledger + "/entries/" + ref);
    return answer.status() == 404 ? null
        : answer.json().getInteger("applied") + " applied, " + answer.json().getInteger("reversed") + " reversed";
  }
}
