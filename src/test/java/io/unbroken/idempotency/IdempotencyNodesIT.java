package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Two clustered nodes, each in a JVM of its own, on the real Redis and PostgreSQL: duplicates
 * spread over both reach the upstream once, and a node killed while holding a key frees it when
 * its claim lease ends, not when the key's time to live does.
 */
@Timeout(300)
class IdempotencyNodesIT {

  private static final Logger log = LoggerFactory.getLogger(IdempotencyNodesIT.class);
  private static final Duration LEASE = Duration.ofSeconds(2);
  private static final int SIMULTANEOUS = 1000;

  @TempDir
  static Path dir;

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static NodeProcess nodeA;
  private static NodeProcess nodeB;
  private static TestClient clientA;
  private static TestClient clientB;
  private static UnbrokenConfig.Redis redis;
  private static UnbrokenConfig.Postgres postgres;
  private static int upstreamPort;
  private static final AtomicInteger orders = new AtomicInteger();

  @BeforeAll
  static void startTwoNodes() throws IOException {
    vertx = Vertx.vertx();
    upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    upstream.on("/pay", request -> {
      upstream.recordOf(request);
      vertx.setTimer(500, t -> request.response().setStatusCode(201).end("order " + orders.incrementAndGet()));
    });
    // The first attempt hangs until its node is killed; a later one is answered at once.
    upstream.on("/hang", request -> {
      upstream.recordOf(request);
      if (upstream.received().stream().filter(r -> r.uri.equals(request.uri())).count() > 1) {
        request.response().setStatusCode(201).end("done by the survivor");
      }
    });
    redis = TestServices.redis("nodes");
    postgres = TestServices.freshDatabase("idempotency_nodes");
    int clusterA = FreePorts.next();
    int clusterB = FreePorts.next();
    int portA = FreePorts.next();
    int portB = FreePorts.next();
    nodeA = NodeProcess.start(dir, "a", yaml(portA, clusterA, clusterA, clusterB, redis, postgres, upstreamPort));
    nodeB = NodeProcess.start(dir, "b", yaml(portB, clusterB, clusterA, clusterB, redis, postgres, upstreamPort));
    clientA = new TestClient(vertx, portA, SIMULTANEOUS / 2);
    clientB = new TestClient(vertx, portB, SIMULTANEOUS / 2);
  }

  private static String yaml(int port, int clusterPort, int clusterA, int clusterB, UnbrokenConfig.Redis redis,
      UnbrokenConfig.Postgres postgres, int upstreamPort) {
    return """
        server:   { host: 127.0.0.1, port: %d, instances: 2 }
        admin:    { host: 127.0.0.1, port: %d }
        redis:    { url: "%s", keyPrefix: "%s" }
        postgres: { url: "%s", poolSize: 4 }
        node:     { workerLease: %dms, heartbeat: %dms }
        cluster:  { enabled: true, host: 127.0.0.1, port: %d, members: ["127.0.0.1:%d", "127.0.0.1:%d"] }
        demo:     { enabled: false }
        routes:
          - prefix: /pay
            upstream: http://127.0.0.1:%d
            timeout: 20s
            events: off
            idempotency: { mode: required, inflight: wait, principal: none }
          - prefix: /hang
            upstream: http://127.0.0.1:%d
            timeout: 60s
            events: sync
            idempotency: { mode: required, inflight: reject, principal: none, ttl: 24h }
        """.formatted(port, FreePorts.next(), redis.url(), redis.keyPrefix(), postgres.url(), LEASE.toMillis(),
        LEASE.toMillis() / 4, clusterPort, clusterA, clusterB, upstreamPort, upstreamPort);
  }

  @AfterAll
  static void stopEverything() {
    for (NodeProcess node : new NodeProcess[] {nodeB, nodeA}) {
      if (node != null) {
        node.close();
      }
    }
    Await.result(vertx.close());
  }

  private static MultiMap key(String key) {
    return MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key);
  }

  private static long reached(String path) {
    return upstream.received().stream().filter(r -> r.uri.equals(path)).count();
  }

  @Test
  void duplicatesSpreadOverTwoNodesReachTheUpstreamOnceAndAllGetItsAnswer() {
    String key = UUID.randomUUID().toString();
    Buffer body = Buffer.buffer("{\"amount\":12}");
    Future<List<Answer>> onA = clientA.startOnContext(() -> sendMany(clientA, key, body));
    Future<List<Answer>> onB = clientB.startOnContext(() -> sendMany(clientB, key, body));
    List<Answer> answers = new ArrayList<>(Await.result(onA));
    answers.addAll(Await.result(onB));
    assertThat(reached("/pay/spread")).isEqualTo(1);
    assertThat(answers).hasSize(SIMULTANEOUS);
    assertThat(answers).allSatisfy(answer -> {
      assertThat(answer.status()).isEqualTo(201);
      assertThat(answer.body()).isEqualTo(answers.get(0).body());
    });
  }

  @Test
  void aKeyHeldByAKilledNodeIsFreedWhenItsLeaseEndsNotWhenItExpires() throws Exception {
    String key = UUID.randomUUID().toString();
    Buffer body = Buffer.buffer("{\"amount\":13}");
    int doomedPort = FreePorts.next();
    // Outside the cluster: what frees its key is the lease in Redis, nothing the survivor hears.
    NodeProcess doomed = NodeProcess.start(dir, "doomed", yaml(doomedPort, FreePorts.next(), FreePorts.next(),
        FreePorts.next(), redis, postgres, upstreamPort).replace("enabled: true", "enabled: false"));
    TestClient doomedClient = new TestClient(vertx, doomedPort, 1);
    doomedClient.startOnContext(() -> doomedClient.send(HttpMethod.POST, "/hang/charge", key(key), body));
    Await.until("the first attempt reached the upstream", Duration.ofSeconds(10), () -> reached("/hang/charge") == 1);

    doomed.kill();
    long killedAt = System.nanoTime();
    Answer immediate = clientB.call(HttpMethod.POST, "/hang/charge", key(key), body);
    assertThat(immediate.status()).as("the dead node's claim still holds").isEqualTo(409);
    Answer[] retry = new Answer[1];
    Await.until("a retry on the surviving node is forwarded", Duration.ofSeconds(30), () -> {
      retry[0] = clientB.call(HttpMethod.POST, "/hang/charge", key(key), body);
      return retry[0].status() != 409;
    });
    Duration freedAfter = Duration.ofNanos(System.nanoTime() - killedAt);
    log.info("The killed node's key was free {} ms after kill -9 (claim lease {} ms)", freedAfter.toMillis(),
        LEASE.toMillis());
    assertThat(retry[0].status()).isEqualTo(201);
    assertThat(retry[0].body().toString()).isEqualTo("done by the survivor");
    assertThat(reached("/hang/charge")).isEqualTo(2);
    assertThat(freedAfter).as("freed within one lease (%s) and its renewal slack, not the 24h time to live", LEASE)
        .isLessThan(LEASE.multipliedBy(3));
  }

  private static Future<List<Answer>> sendMany(TestClient client, String key, Buffer body) {
    List<Future<Answer>> all = new ArrayList<>();
    for (int i = 0; i < SIMULTANEOUS / 2; i++) {
      all.add(client.send(HttpMethod.POST, "/pay/spread", key(key), body));
    }
    return Future.all(all).map(done -> done.<Answer>list());
  }
}
