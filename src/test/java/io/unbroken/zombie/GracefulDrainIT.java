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
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ConnectException;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Graceful stops in a three-node cluster (JVMs of their own, one Redis, one PostgreSQL). A rolling
 * restart under steady load fails no request: a stopping node reports not ready, takes no new
 * connection and finishes what it has, and a client that, like any load balancer, tries another
 * node when a connection is refused or closed before an answer never sees an error. A node whose
 * requests outlast {@code server.drainTimeout} cancels them ({@code shutdown}): their clients get
 * a problem, their upstream calls are reset, and their keys are free at once, not at the end of
 * their claims' leases.
 */
@Timeout(400)
class GracefulDrainIT {

  private static final Logger log = LoggerFactory.getLogger(GracefulDrainIT.class);
  // Far longer than the test waits for a freed key: a key freed only by its lease would still be held.
  private static final Duration LEASE = Duration.ofSeconds(30);
  private static final int LANES = 8;

  @TempDir
  static Path dir;

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenConfig.Redis redis;
  private static UnbrokenConfig.Postgres database;
  private static int upstreamPort;
  private static List<Integer> clusterPorts;
  private static final NodeProcess[] processes = new NodeProcess[3];
  private static final AtomicIntegerArray ports = new AtomicIntegerArray(3);
  private static final int[] adminPorts = new int[3];

  @BeforeAll
  static void startCluster() throws Exception {
    vertx = Vertx.vertx();
    upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    ZombieCluster.serveLongAndPay(vertx, upstream);
    redis = TestServices.redis("graceful-drain");
    database = TestServices.freshDatabase("graceful_drain");
    clusterPorts = IntStream.range(0, 4).mapToObj(i -> FreePorts.next()).toList();
    for (int i = 0; i < 3; i++) {
      adminPorts[i] = FreePorts.next();
      ports.set(i, FreePorts.next());
      processes[i] = start("node-" + i, ports.get(i), adminPorts[i], clusterPorts.get(i), Duration.ofSeconds(10));
    }
  }

  @AfterAll
  static void stopCluster() {
    for (NodeProcess process : processes) {
      if (process != null) {
        process.close();
      }
    }
    Await.result(vertx.close());
  }

  private static NodeProcess start(String name, int port, int adminPort, int clusterPort, Duration drainTimeout)
      throws Exception {
    String yaml = ZombieCluster.nodeYaml(port, adminPort, drainTimeout, redis, database, LEASE, Duration.ofSeconds(1),
        clusterPort, clusterPorts, upstreamPort);
    return NodeProcess.start(dir, name, yaml);
  }

  @Test
  void aRollingRestartUnderSteadyLoadFailsNoRequest() throws Exception {
    HttpClientAgent client = vertx.createHttpClient(new HttpClientOptions(), new PoolOptions().setHttp1MaxSize(LANES));
    AtomicBoolean loading = new AtomicBoolean(true);
    AtomicInteger answered = new AtomicInteger();
    AtomicInteger retried = new AtomicInteger();
    List<String> failures = new ArrayList<>();
    List<Future<Void>> lanes = new ArrayList<>();
    for (int lane = 0; lane < LANES; lane++) {
      lanes.add(lane(client, lane, loading, answered, retried, failures));
    }
    for (int i = 0; i < 3; i++) {
      Await.until("requests flow before node " + i + " restarts", Duration.ofSeconds(30),
          () -> answered.get() > 50);
      int before = answered.get();
      processes[i].close(); // SIGTERM: the node drains and exits
      int port = FreePorts.next();
      processes[i] = start("node-" + i + "-again", port, adminPorts[i], clusterPorts.get(i), Duration.ofSeconds(10));
      ports.set(i, port);
      log.info("Node {} restarted; {} requests answered meanwhile", i, answered.get() - before);
    }
    loading.set(false);
    Await.result(Future.all(lanes));
    client.close();
    log.info("Rolling restart: {} requests answered, {} sent again to another node after a refused or closed"
        + " connection, failures: {}", answered.get(), retried.get(), failures);
    assertThat(failures).as("requests that ended without a 200").isEmpty();
    assertThat(answered.get()).isGreaterThan(150);
  }

  /**
   * One client lane: requests one after another, each to the next node in turn; a connection
   * refused or closed before the answer sends the same (safe) request to the next node.
   */
  private static Future<Void> lane(HttpClientAgent client, int lane, AtomicBoolean loading, AtomicInteger answered,
      AtomicInteger retried, List<String> failures) {
    if (!loading.get()) {
      return Future.succeededFuture();
    }
    String uri = "/long/lane-" + lane + "-" + UUID.randomUUID() + "?ms=100";
    return send(client, uri, lane + answered.get(), 0, retried)
        .andThen(result -> {
          if (result.succeeded() && result.result() == 200) {
            answered.incrementAndGet();
          } else {
            synchronized (failures) {
              failures.add(result.succeeded() ? "status " + result.result() : String.valueOf(result.cause()));
            }
          }
        })
        .transform(done -> lane(client, lane, loading, answered, retried, failures));
  }

  private static Future<Integer> send(HttpClientAgent client, String uri, int turn, int attempt, AtomicInteger retried) {
    int port = ports.get(Math.floorMod(turn + attempt, 3));
    return client.request(new RequestOptions().setHost("127.0.0.1").setPort(port).setURI(uri).setIdleTimeout(20_000))
        .compose(request -> request.send())
        .compose(response -> response.body().map(body -> response.statusCode()))
        .recover(failure -> {
          // Refused, or closed before any answer (a keep-alive race any HTTP client retries a GET on).
          boolean notAnswered = failure instanceof ConnectException || failure instanceof HttpClosedException
              || failure instanceof SocketException;
          if (!notAnswered || attempt >= 5) {
            return Future.failedFuture(failure);
          }
          retried.incrementAndGet();
          return vertx.timer(50).compose(t -> send(client, uri, turn, attempt + 1, retried));
        });
  }

  @Test
  void requestsPastTheDrainTimeoutAreCancelledAndTheirKeysFreedAtOnce() throws Exception {
    int port = FreePorts.next();
    int adminPort = FreePorts.next();
    NodeProcess drainer = start("drainer", port, adminPort, clusterPorts.get(3), Duration.ofSeconds(3));
    TestClient client = new TestClient(vertx, port, 4);
    TestClient admin = new TestClient(vertx, adminPort, 2);
    String stuck = "/long/stuck-" + UUID.randomUUID();
    Future<Answer> hanging = client.begin(HttpMethod.GET, stuck);
    String key = "key-" + UUID.randomUUID();
    Future<Answer> paying = client.startOnContext(() -> client.send(HttpMethod.POST, "/pay/" + key, keyHeader(key),
        Buffer.buffer("{}")));
    String job = "/async/stuck-" + UUID.randomUUID();
    Answer accepted = client.call(HttpMethod.POST, job, MultiMap.caseInsensitiveMultiMap().add("Prefer", "respond-async"),
        Buffer.buffer("{}"));
    assertThat(accepted.status()).isEqualTo(202);
    String monitorPath = accepted.headers().get("Location");
    TestClient survivor = new TestClient(vertx, ports.get(0), 2);
    // The client keeps polling its monitor on another node: its request is not abandoned, only stopped.
    long polling = vertx.setPeriodic(500, t -> survivor.begin(HttpMethod.GET, monitorPath));
    Await.until("all three reached the upstream", Duration.ofSeconds(10),
        () -> received(stuck) != null && received("/pay/" + key) != null && received(job) != null);

    CompletableFuture<Void> stopped = CompletableFuture.runAsync(drainer::close);
    Await.until("the draining node reports not ready", Duration.ofSeconds(3),
        () -> notReady(admin));
    Answer cancelled = Await.result(hanging);
    stopped.get();
    vertx.cancelTimer(polling);

    assertThat(cancelled.status()).isEqualTo(503);
    assertThat(cancelled.problem().getString("detail")).contains("shutdown");
    assertThat(Await.result(paying).status()).isEqualTo(503);
    assertThat(received(stuck).closedBeforeAnswer).as("the upstream call was reset").isTrue();
    Answer retried = survivor.call(HttpMethod.POST, "/pay/" + key, keyHeader(key), Buffer.buffer("{}"));
    assertThat(retried.status()).as("a retry at once, long before the claim's %s lease ends", LEASE).isEqualTo(201);
    Answer monitor = survivor.get(monitorPath);
    assertThat(monitor.status()).as("the async request's monitor, asked of another node").isEqualTo(410);
    assertThat(monitor.problem().getString("reason")).isEqualTo("shutdown");
    JsonArray events = new TestClient(vertx, adminPorts[0], 2).get("/admin/requests/" + cancelled.requestId()).json()
        .getJsonArray("events");
    JsonObject last = events.getJsonObject(events.size() - 1);
    assertThat(last.getString("type")).isEqualTo("RequestCancelled");
    assertThat(last.getJsonObject("data").getString("by")).isEqualTo("shutdown");
  }

  private static boolean notReady(TestClient admin) {
    Promise<Boolean> answer = Promise.promise();
    admin.startOnContext(() -> admin.send(HttpMethod.GET, "/health/ready"))
        .onComplete(result -> answer.complete(result.succeeded() && result.result().status() == 503
            && result.result().body().toString().contains("stopping")));
    return Await.result(answer.future());
  }

  private static MultiMap keyHeader(String key) {
    return MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key);
  }

  private static TestUpstream.Received received(String path) {
    return upstream.received().stream().filter(r -> r.uri.equals(path)).findFirst().orElse(null);
  }
}
