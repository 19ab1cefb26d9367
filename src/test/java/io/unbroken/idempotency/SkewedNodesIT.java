package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.NodeProcess;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Two clustered nodes in JVMs of their own on the same Redis and PostgreSQL, one of them with its
 * wall clock shifted by libfaketime: ahead by far more than a claim lease, and in another run
 * behind by far more than a key's time to live. Whichever node holds a key in flight, the other
 * answers its duplicate 409 and the upstream runs once; an answer stored by either is replayed by
 * the other; the skewed node shows its offset to each store; and where the nodes' clocks are within
 * {@code node.maxClockOffset} of each other, a replay's events order after the answer's by hybrid
 * clock, whichever clock is behind.
 */
@Timeout(600)
class SkewedNodesIT {

  private static final Duration LEASE = Duration.ofSeconds(2);
  private static final Duration TTL = Duration.ofSeconds(60);
  private static final Duration MAX_OFFSET = Duration.ofSeconds(60);
  // Longer than a lease: the first attempt's claim must be renewed, by Redis's clock, to hold.
  private static final long UPSTREAM_MS = LEASE.toMillis() + 1_500;
  private static final Pattern REDIS_OFFSET = Pattern.compile("unbroken_clock_offset_seconds\\{store=\"redis\"\\} (\\S+)");
  private static final Pattern IGNORED = Pattern.compile("(?m)^unbroken_hlc_peers_ignored_total (\\S+)");

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static int upstreamPort;
  private static final AtomicInteger orders = new AtomicInteger();

  @TempDir
  Path dir;

  @BeforeAll
  static void startUpstream() {
    vertx = Vertx.vertx();
    upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    upstream.on("/slow", request -> {
      upstream.recordOf(request);
      vertx.setTimer(UPSTREAM_MS, t -> request.response().setStatusCode(201).end("order " + orders.incrementAndGet()));
    });
  }

  @AfterAll
  static void stopUpstream() {
    Await.result(vertx.close());
  }

  /** One node of the pair: its process and clients for its listener and admin API. */
  private record Node(NodeProcess process, TestClient client, TestClient admin) implements AutoCloseable {
    @Override
    public void close() {
      process.close();
    }
  }

  private Node start(String name, String shift, int clusterPort, int clusterA, int clusterB,
      UnbrokenConfig.Redis redis, UnbrokenConfig.Postgres postgres) throws Exception {
    int port = FreePorts.next();
    int adminPort = FreePorts.next();
    String yaml = """
        server:   { host: 127.0.0.1, port: %d, instances: 1 }
        admin:    { host: 127.0.0.1, port: %d }
        redis:    { url: "%s", keyPrefix: "%s" }
        postgres: { url: "%s", poolSize: 4 }
        node:     { workerLease: %dms, heartbeat: %dms, maxClockOffset: %ds }
        cluster:  { enabled: true, host: 127.0.0.1, port: %d, members: ["127.0.0.1:%d", "127.0.0.1:%d"] }
        demo:     { enabled: false }
        routes:
          - prefix: /slow
            upstream: http://127.0.0.1:%d
            timeout: 20s
            events: sync
            idempotency: { mode: required, inflight: reject, principal: none, ttl: %ds }
        """.formatted(port, adminPort, redis.url(), redis.keyPrefix(), postgres.url(), LEASE.toMillis(),
        LEASE.toMillis() / 4, MAX_OFFSET.toSeconds(), clusterPort, clusterA, clusterB, upstreamPort, TTL.toSeconds());
    NodeProcess process = NodeProcess.start(dir, name, yaml, shift);
    return new Node(process, new TestClient(vertx, port, 4), new TestClient(vertx, adminPort, 2));
  }

  @ParameterizedTest(name = "one node''s clock {0}")
  @CsvSource({"ahead, +45s", "behind, -300s"})
  void keysAreJudgedByTheStoresClocksWhateverANodesClockSays(String run, String shift) throws Exception {
    UnbrokenConfig.Redis redis = TestServices.redis("skewed-" + run);
    UnbrokenConfig.Postgres postgres = TestServices.freshDatabase("skewed_nodes_" + run);
    int clusterA = FreePorts.next();
    int clusterB = FreePorts.next();
    try (Node straight = start("straight-" + run, "", clusterA, clusterA, clusterB, redis, postgres);
         Node skewed = start("skewed-" + run, shift, clusterB, clusterA, clusterB, redis, postgres)) {
      double shiftSeconds = shift.startsWith("-") ? -Double.parseDouble(shift.substring(1, shift.length() - 1))
          : Double.parseDouble(shift.substring(1, shift.length() - 1));
      boolean withinBound = Math.abs(shiftSeconds) <= MAX_OFFSET.toSeconds();

      oneUpstreamCallAndAReplayAcrossTheSkew(straight, skewed, withinBound);
      oneUpstreamCallAndAReplayAcrossTheSkew(skewed, straight, withinBound);

      String metrics = skewed.admin().get("/metrics").body().toString();
      assertThat(metricValue(REDIS_OFFSET, metrics)).as("the skewed node's offset to Redis, in /metrics")
          .isCloseTo(-shiftSeconds, within(1.0));
      Answer ready = skewed.admin().get("/health/ready");
      if (withinBound) {
        assertThat(ready.status()).as("within node.maxClockOffset: ready; %s", ready.body()).isEqualTo(200);
        assertThat(ready.body().toString()).contains("redisOffsetSeconds", "postgresOffsetSeconds");
      } else {
        assertThat(ready.status()).as("beyond node.maxClockOffset: not ready").isEqualTo(503);
        assertThat(ready.body().toString()).contains("clock offset to redis is +", "more than node.maxClockOffset");
        assertThat(skewed.process().log()).contains("Not ready: clock offset to");
        // The straight node's clock values are ahead of the skewed node's by more than it may follow.
        assertThat(metricValue(IGNORED, metrics)).as("peer clock values ignored, not followed").isPositive();
      }
    }
  }

  private void oneUpstreamCallAndAReplayAcrossTheSkew(Node first, Node second, boolean clocksWithinBound) {
    String key = UUID.randomUUID().toString();
    String uri = "/slow/" + key;
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key);
    Buffer body = Buffer.buffer("{\"amount\":5}");

    Future<Answer> original = first.client().startOnContext(() -> first.client().send(HttpMethod.POST, uri, headers, body));
    Await.until("the first attempt reached the upstream", Duration.ofSeconds(20), () -> reached(uri) == 1);
    long reachedAt = System.nanoTime();
    assertThat(second.client().call(HttpMethod.POST, uri, headers, body).status())
        .as("a duplicate on the other node while the first is in flight").isEqualTo(409);
    Await.until("the first attempt has outlived its first lease", LEASE.multipliedBy(2),
        () -> System.nanoTime() - reachedAt > LEASE.toNanos());
    assertThat(second.client().call(HttpMethod.POST, uri, headers, body).status())
        .as("a duplicate once the first lease would have ended: renewed by Redis's clock, still held").isEqualTo(409);

    Answer answer = Await.result(original);
    assertThat(answer.status()).isEqualTo(201);
    Answer replay = second.client().call(HttpMethod.POST, uri, headers, body);
    assertThat(replay.status()).isEqualTo(201);
    assertThat(replay.headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(replay.body()).isEqualTo(answer.body());
    assertThat(reached(uri)).as("the upstream ran once").isEqualTo(1);

    if (clocksWithinBound) {
      long completed = hlcOf(first, answer.requestId(), "RequestCompleted");
      long replayed = hlcOf(second, replay.requestId(), "RequestReplayed");
      assertThat(replayed).as("the replay orders after the answer it replays, by hybrid clock").isGreaterThan(completed);
    }
  }

  private static long reached(String uri) {
    return upstream.received().stream().filter(r -> r.uri.equals(uri)).count();
  }

  /** The hybrid clock value of the request's event of {@code type}, once it is recorded. */
  private static long hlcOf(Node node, String requestId, String type) {
    long[] hlc = new long[1];
    Await.until(type + " of request " + requestId + " is recorded", Duration.ofSeconds(20), () -> {
      JsonArray events = node.admin().get("/admin/requests/" + requestId).json().getJsonArray("events");
      for (Object item : events) {
        JsonObject event = (JsonObject) item;
        if (type.equals(event.getString("type"))) {
          hlc[0] = event.getLong("hlc");
          return true;
        }
      }
      return false;
    });
    return hlc[0];
  }

  private static double metricValue(Pattern pattern, String metrics) {
    Matcher matcher = pattern.matcher(metrics);
    assertThat(matcher.find()).as("%s in /metrics", pattern).isTrue();
    return Double.parseDouble(matcher.group(1));
  }
}
