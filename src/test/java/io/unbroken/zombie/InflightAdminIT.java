package io.unbroken.zombie;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.AsyncPolicy;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.StatusSet;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The in-flight registry and cancellation on one embedded node: what runs is listed with its
 * phase, an operator's cancel resets the upstream call and answers the client, a cancelled
 * idempotent request leaves its key to the route's {@code unknown} policy (here: free for the
 * retry), and finished or unknown requests are told apart.
 */
class InflightAdminIT {

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenNode node;
  private static TestClient gateway;
  private static TestClient admin;
  private static final Map<String, Integer> attempts = new ConcurrentHashMap<>();

  @BeforeAll
  static void startNode() {
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    upstream.on("/hang", request -> { /* never answers */ });
    // A key's first attempt hangs; the next one answers.
    upstream.on("/pay", request -> {
      if (attempts.merge(request.path(), 1, Integer::sum) > 1) {
        request.response().setStatusCode(201).end("paid");
      }
    });
    String up = "http://127.0.0.1:" + upstreamPort;
    RouteConfig pay = new RouteConfig("/pay", URI.create(up), Set.of(), Duration.ofSeconds(30), 1 << 20,
        EventsMode.SYNC, new IdempotencyPolicy(IdempotencyPolicy.Mode.REQUIRED, Duration.ofHours(1),
            IdempotencyPolicy.Inflight.REJECT, "none", List.of(), List.of(), StatusSet.DEFAULT_RELEASED,
            Duration.ofSeconds(30), IdempotencyPolicy.Unknown.RETRY, 1 << 20));
    RouteConfig job = new RouteConfig("/job", URI.create(up), Set.of(), Duration.ofSeconds(30), 1 << 20,
        EventsMode.SYNC, IdempotencyPolicy.DISABLED, Optional.empty(), Optional.empty(),
        Optional.of(new AsyncPolicy(Duration.ofSeconds(30), Duration.ofMinutes(1))));
    upstream.on("/job", request -> { /* never answers */ });
    UnbrokenConfig config = TestNodes.embedded(List.of(
        TestNodes.route("/hang", up, Duration.ofSeconds(30), EventsMode.SYNC), pay, job));
    node = Await.result(UnbrokenNode.start(config));
    gateway = new TestClient(vertx, config.server().port(), 8);
    admin = new TestClient(vertx, config.admin().port(), 2);
  }

  @AfterAll
  static void stop() {
    Await.result(node.close());
    Await.result(vertx.close());
  }

  @Test
  void anOperatorCancelsARunningRequestAndTheClientAndUpstreamHearOfIt() {
    String path = "/hang/" + UUID.randomUUID();
    Future<Answer> client = gateway.begin(HttpMethod.GET, path);
    JsonObject running = awaitListed(path);
    assertThat(running.getString("node")).isEqualTo(node.nodeId());
    assertThat(running.getString("route")).isEqualTo("/hang");
    assertThat(running.getString("method")).isEqualTo("GET");
    assertThat(running.getString("phase")).isEqualTo("forwarding");
    assertThat(admin.get("/admin/inflight?node=another-node").json().getJsonArray("nodes")).isEmpty();

    String requestId = running.getString("requestId");
    Answer cancelled = admin.call(HttpMethod.DELETE, "/admin/requests/" + requestId);

    assertThat(cancelled.status()).isEqualTo(202);
    Answer answer = Await.result(client);
    assertThat(answer.status()).isEqualTo(503);
    assertThat(answer.problem().getString("type")).endsWith("request-cancelled");
    Await.until("the upstream saw its connection closed", Duration.ofSeconds(10),
        () -> received(path).closedBeforeAnswer);
    Await.until("RequestCancelled by operator recorded", Duration.ofSeconds(10), () -> {
      JsonObject last = lastEvent(requestId);
      return last.getString("type").equals("RequestCancelled")
          && last.getJsonObject("data").getString("by").equals("operator");
    });
    assertThat(InflightListing.requestAt(admin.get("/admin/inflight").json(), path)).as("no longer listed").isNull();
    assertThat(admin.call(HttpMethod.DELETE, "/admin/requests/" + requestId).status()).isEqualTo(409);
    assertThat(admin.call(HttpMethod.DELETE, "/admin/requests/424242").problem().getString("type"))
        .endsWith("request-not-found");
  }

  @Test
  void aCancelledIdempotentRequestFreesItsKeyForTheRetryUnderUnknownRetry() {
    String key = "key-" + UUID.randomUUID();
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key);
    Future<Answer> first = gateway.startOnContext(() -> gateway.send(HttpMethod.POST, "/pay/" + key, headers,
        Buffer.buffer("{}")));
    JsonObject running = awaitListed("/pay/" + key);

    assertThat(admin.call(HttpMethod.DELETE, "/admin/requests/" + running.getString("requestId")).status())
        .isEqualTo(202);

    assertThat(Await.result(first).status()).isEqualTo(503);
    Await.until("the cancellation is recorded", Duration.ofSeconds(10),
        () -> lastEvent(running.getString("requestId")).getString("type").equals("RequestCancelled"));
    Answer retry = gateway.call(HttpMethod.POST, "/pay/" + key, headers, Buffer.buffer("{}"));
    assertThat(retry.status()).as("the retry runs again").isEqualTo(201);
  }

  @Test
  void aClientCancelsItsAsyncRequestThroughItsMonitor() {
    String path = "/job/" + UUID.randomUUID();
    Answer accepted = gateway.call(HttpMethod.POST, path,
        MultiMap.caseInsensitiveMultiMap().add("Prefer", "wait=10, respond-async"), Buffer.buffer("{}"));
    assertThat(accepted.status()).isEqualTo(202);
    String monitor = accepted.headers().get("Location");
    assertThat(awaitListed(path).getString("requestId")).isEqualTo(accepted.requestId());
    assertThat(gateway.get(monitor).status()).isEqualTo(202);

    assertThat(gateway.call(HttpMethod.DELETE, monitor).status()).isEqualTo(202);

    Await.until("the upstream saw its connection closed", Duration.ofSeconds(10),
        () -> received(path).closedBeforeAnswer);
    Await.until("the monitor says the client cancelled it", Duration.ofSeconds(10),
        () -> gateway.get(monitor).status() == 410);
    assertThat(gateway.get(monitor).problem().getString("reason")).isEqualTo("client");
    assertThat(gateway.call(HttpMethod.DELETE, monitor).status()).as("cancelled again").isEqualTo(409);
    assertThat(gateway.get("/unbroken/monitors/4242").status()).isEqualTo(404);
    assertThat(gateway.call(HttpMethod.PUT, monitor).status()).isEqualTo(405);
  }

  private static JsonObject awaitListed(String path) {
    Await.until(path + " listed in flight and forwarded", Duration.ofSeconds(10), () -> {
      JsonObject listed = InflightListing.requestAt(admin.get("/admin/inflight").json(), path);
      return listed != null && listed.getString("phase").equals("forwarding") && received(path) != null;
    });
    return InflightListing.requestAt(admin.get("/admin/inflight").json(), path);
  }

  private static JsonObject lastEvent(String requestId) {
    JsonArray events = admin.get("/admin/requests/" + requestId).json().getJsonArray("events");
    return events.getJsonObject(events.size() - 1);
  }

  private static TestUpstream.Received received(String path) {
    return upstream.received().stream().filter(r -> r.uri.equals(path)).findFirst().orElse(null);
  }
}
