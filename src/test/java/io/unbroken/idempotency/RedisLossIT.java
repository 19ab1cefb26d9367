package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.IdempotencyPolicy.Inflight;
import io.unbroken.config.IdempotencyPolicy.Mode;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.PrivateRedis;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Redis losing keys or going away, on a redis-server of the test's own: PostgreSQL keeps every
 * completed answer, and claims go there while Redis cannot be reached, so nothing runs twice.
 */
@Timeout(120)
class RedisLossIT {

  private static final Duration NOTICE = Duration.ofSeconds(20);
  private static final Duration WORKER_LEASE = Duration.ofSeconds(2);

  @TempDir
  Path dir;

  private Vertx vertx;
  private TestUpstream upstream;
  private PrivateRedis redis;
  private UnbrokenConfig config;
  private UnbrokenNode node;
  private TestClient client;
  private Pool database;
  private final AtomicInteger orders = new AtomicInteger();

  @BeforeEach
  void start() throws IOException {
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    upstream.on("/", request -> {
      upstream.recordOf(request);
      vertx.setTimer(200, t -> request.response().setStatusCode(201)
          .end(new JsonObject().put("order", orders.incrementAndGet()).encode()));
    });
    redis = PrivateRedis.start(dir);
    String to = "http://127.0.0.1:" + upstreamPort;
    IdempotencyPolicy policy = new IdempotencyPolicy(Mode.REQUIRED, Duration.ofHours(1), Inflight.REJECT, "none");
    UnbrokenConfig.Postgres postgres = TestServices.freshDatabase("redis_loss");
    UnbrokenConfig stores = TestNodes.withStores(Optional.of(redis.settings("redis-loss")), Optional.of(postgres),
        Optional.empty(), List.of(TestNodes.idempotentRoute("/sync", to, Duration.ofSeconds(5), EventsMode.SYNC, policy),
            TestNodes.idempotentRoute("/off", to, Duration.ofSeconds(5), EventsMode.OFF, policy)));
    // A short worker-id lease, so an outage can outlast it within the test.
    config = new UnbrokenConfig(stores.server(), stores.admin(), stores.redis(), stores.postgres(),
        new UnbrokenConfig.Node(0, Duration.ofSeconds(5), WORKER_LEASE, WORKER_LEASE.dividedBy(4), Duration.ofMillis(500)),
        stores.cluster(), stores.demo(), stores.routes());
    node = Await.result(UnbrokenNode.start(config));
    client = new TestClient(vertx, config.server().port(), 200);
    database = PostgresConnector.create(vertx, postgres);
  }

  @AfterEach
  void stop() throws InterruptedException {
    redis.close();
    Await.result(node.close());
    Await.result(vertx.close());
  }

  private Answer post(String path, String key) {
    return client.call(HttpMethod.POST, path, MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key),
        Buffer.buffer("{\"amount\":3}"));
  }

  private long reached(String path) {
    return upstream.received().stream().filter(r -> r.uri.equals(path)).count();
  }

  @Test
  void afterFlushallARetryIsReplayedFromPostgresql() throws IOException, InterruptedException {
    String syncKey = UUID.randomUUID().toString();
    String offKey = UUID.randomUUID().toString();
    Answer sync = post("/sync/a", syncKey);
    Answer off = post("/off/a", offKey);
    // A route without events writes its durable answer just behind the client's answer.
    Await.until("the answer of /off is durable", NOTICE, () -> durableAnswers(off.requestId()) == 1);

    redis.command("FLUSHALL");

    Answer syncRetry = post("/sync/a", syncKey);
    Answer offRetry = post("/off/a", offKey);
    assertThat(syncRetry.headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(syncRetry.body()).isEqualTo(sync.body());
    assertThat(offRetry.headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(offRetry.body()).isEqualTo(off.body());
    assertThat(reached("/sync/a")).isEqualTo(1);
    assertThat(reached("/off/a")).isEqualTo(1);
  }

  @Test
  void withRedisDownClaimsGoToPostgresqlAndNothingRunsTwiceThenRedisTakesOverAgain()
      throws IOException, InterruptedException {
    redis.kill();
    String key = UUID.randomUUID().toString();
    List<Answer> answers = client.onContext(() -> {
      List<Future<Answer>> all = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        all.add(client.send(HttpMethod.POST, "/off/down", MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key),
            Buffer.buffer("{\"amount\":3}")));
      }
      return Future.all(all).map(done -> done.<Answer>list());
    });
    assertThat(reached("/off/down")).as("duplicates while Redis is down").isEqualTo(1);
    assertThat(answers).extracting(Answer::status).containsOnly(201, 409);
    assertThat(answers.stream().filter(answer -> answer.status() == 201)).hasSize(1);
    Answer retry = post("/off/down", key);
    assertThat(retry.headers().get("Idempotent-Replayed")).isEqualTo("true");
    String syncKey = UUID.randomUUID().toString();
    Answer sync = post("/sync/down", syncKey);
    assertThat(sync.status()).isEqualTo(201);
    assertThat(post("/sync/down", syncKey).headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(counter("unbroken_idempotency_leases_lost_total"))
        .as("a claim in PostgreSQL completed with its sync answer is not a lost lease").isZero();

    JsonObject redisCheck = readinessCheck("redis");
    assertThat(redisCheck.getString("status")).as("degraded, still serving").isEqualTo("UP");
    assertThat(redisCheck.getJsonObject("data").getBoolean("degraded")).isTrue();

    // Longer than a worker-id lease: ids are leased in PostgreSQL, so the node goes on serving.
    long outageEnds = System.nanoTime() + WORKER_LEASE.multipliedBy(2).toNanos();
    Await.until("an outage of two worker-id leases", WORKER_LEASE.multipliedBy(3), () -> System.nanoTime() > outageEnds);
    assertThat(post("/off/later", UUID.randomUUID().toString()).status()).as("a new key, Redis still down")
        .isEqualTo(201);
    assertThat(readinessCheck("worker-id").getString("status")).isEqualTo("UP");

    redis.restart();
    Await.until("readiness no longer reports Redis degraded", NOTICE,
        () -> readinessCheck("redis").getJsonObject("data") == null);
    // Readiness pings Redis itself; claims return to Redis on the node's next heartbeat.
    Await.until("a new key is claimed in Redis again", NOTICE, () -> {
      double before = fallbackClaims();
      return post("/off/fresh", UUID.randomUUID().toString()).status() == 201 && fallbackClaims() == before;
    });
    Answer afterRestart = post("/off/down", key);
    assertThat(afterRestart.headers().get("Idempotent-Replayed")).as("the key claimed in PostgreSQL still holds")
        .isEqualTo("true");
    assertThat(reached("/off/down")).isEqualTo(1);
  }

  private long durableAnswers(String requestId) {
    return Await.result(database.preparedQuery("SELECT count(*) FROM idempotency_records WHERE request_id = $1")
        .execute(Tuple.of(requestId))).iterator().next().getLong(0);
  }

  private JsonObject readinessCheck(String id) {
    TestClient admin = new TestClient(vertx, config.admin().port(), 1);
    JsonObject readiness = admin.get("/health/ready").json();
    return readiness.getJsonArray("checks").stream().map(JsonObject.class::cast)
        .filter(check -> check.getString("id").equals(id)).findFirst().orElseThrow();
  }

  private double fallbackClaims() {
    return counter("unbroken_idempotency_fallbacks_total");
  }

  private double counter(String name) {
    TestClient admin = new TestClient(vertx, config.admin().port(), 1);
    return admin.get("/metrics").body().toString().lines()
        .filter(line -> line.startsWith(name))
        .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
        .findFirst().orElse(0);
  }
}
