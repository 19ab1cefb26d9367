package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.IdempotencyPolicy.Inflight;
import io.unbroken.config.IdempotencyPolicy.Mode;
import io.unbroken.config.IdempotencyPolicy.Unknown;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.StatusSet;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Idempotency-Key end to end: one node on the real Redis and PostgreSQL, an upstream that counts
 * what reaches it, and clients that send the duplicates, retries and mistakes real clients send.
 */
class IdempotencyIT {

  private static final int SIMULTANEOUS = 1000;
  private static final Duration UPSTREAM_WORK = Duration.ofMillis(300);
  // The /silent route's idleTimeout.
  private static final Duration SILENCE = Duration.ofMillis(300);

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenNode node;
  private static UnbrokenConfig config;
  private static TestClient client;
  private static Pool database;
  private static final AtomicInteger orders = new AtomicInteger();

  @BeforeAll
  static void startNodeAndUpstream() {
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    upstream.on("/pay", IdempotencyIT::createOrder)
        .on("/wait", IdempotencyIT::createOrder)
        .on("/slow", request -> {
          upstream.recordOf(request);
          vertx.setTimer(3_000, t -> order(request));
        })
        .on("/flaky", request -> {
          upstream.recordOf(request);
          boolean first = upstream.received().stream().filter(r -> r.uri.equals(request.uri())).count() == 1;
          request.response().setStatusCode(first ? 503 : 201).end(first ? "busy" : "made");
        })
        .on("/ttl", IdempotencyIT::createOrder)
        .on("/large", request -> {
          upstream.recordOf(request);
          request.response().setStatusCode(201).end(Buffer.buffer(new byte[4096]));
        })
        .on("/bigerror", request -> {
          upstream.recordOf(request);
          request.response().setStatusCode(503).end(Buffer.buffer(new byte[4096]));
        })
        .on("/held", request -> {
          upstream.recordOf(request);
          request.connection().close();
        })
        .on("/silent", request -> {
          // The first attempt of a path gets nothing back, not even a head; later ones are answered.
          if (upstream.received().stream().filter(r -> r.uri.equals(request.uri())).count() > 1) {
            order(request);
          }
        })
        .on("/reset", request -> {
          upstream.recordOf(request);
          request.connection().close();
        });
    String to = "http://127.0.0.1:" + upstreamPort;
    IdempotencyPolicy required = new IdempotencyPolicy(Mode.REQUIRED, Duration.ofHours(24), Inflight.REJECT,
        "header:X-Api-Key", List.of("Content-Type"), List.of("X-Order-Version"), StatusSet.DEFAULT_RELEASED,
        Duration.ofSeconds(10), Unknown.RETRY, 1 << 20);
    List<RouteConfig> routes = List.of(
        TestNodes.idempotentRoute("/pay", to, Duration.ofSeconds(10), EventsMode.SYNC, required),
        TestNodes.idempotentRoute("/wait", to, Duration.ofSeconds(10), EventsMode.OFF, required.withInflight(Inflight.WAIT)),
        TestNodes.idempotentRoute("/slow", to, Duration.ofSeconds(1), EventsMode.OFF, required),
        TestNodes.idempotentRoute("/slowheld", to, Duration.ofSeconds(1), EventsMode.OFF,
            required.withInflight(Inflight.WAIT)),
        TestNodes.idempotentRoute("/flaky", to, Duration.ofSeconds(5), EventsMode.ASYNC, required),
        TestNodes.idempotentRoute("/ttl", to, Duration.ofSeconds(5), EventsMode.OFF, new IdempotencyPolicy(
            Mode.OPTIONAL, Duration.ofMillis(500), Inflight.REJECT, "none")),
        TestNodes.idempotentRoute("/reset", to, Duration.ofSeconds(5), EventsMode.SYNC, required),
        new RouteConfig("/silent", URI.create(to), Set.of(), Duration.ofSeconds(5), 1 << 20, EventsMode.SYNC, required,
            Optional.empty(), Optional.of(SILENCE)),
        TestNodes.idempotentRoute("/large", to, Duration.ofSeconds(5), EventsMode.SYNC, anonymous(Unknown.RETRY, 1024)),
        TestNodes.idempotentRoute("/bigerror", to, Duration.ofSeconds(5), EventsMode.SYNC, anonymous(Unknown.RETRY, 1024)),
        TestNodes.idempotentRoute("/held", to, Duration.ofSeconds(5), EventsMode.SYNC, anonymous(Unknown.HOLD, 1 << 20)));
    UnbrokenConfig.Postgres postgres = TestServices.freshDatabase("idempotency");
    config = TestNodes.withCommitWindow(TestNodes.withStores(Optional.of(TestServices.redis("idempotency")),
        Optional.of(postgres), Optional.empty(), routes));
    node = Await.result(UnbrokenNode.start(config));
    client = new TestClient(vertx, config.server().port(), SIMULTANEOUS);
    database = PostgresConnector.create(vertx, postgres);
  }

  @AfterAll
  static void stop() {
    Await.result(node.close());
    Await.result(vertx.close());
  }

  /** Keys of no particular client, with what an unknown outcome does and the largest answer kept. */
  private static IdempotencyPolicy anonymous(Unknown unknown, long maxAnswer) {
    return new IdempotencyPolicy(Mode.REQUIRED, Duration.ofHours(1), Inflight.REJECT, "none", List.of(), List.of(),
        StatusSet.DEFAULT_RELEASED, Duration.ofSeconds(10), unknown, maxAnswer);
  }

  private static void createOrder(HttpServerRequest request) {
    upstream.recordOf(request);
    request.body().onSuccess(body -> vertx.setTimer(UPSTREAM_WORK.toMillis(), t -> order(request)));
  }

  private static void order(HttpServerRequest request) {
    int id = orders.incrementAndGet();
    request.response().setStatusCode(201)
        .putHeader("Location", "/orders/" + id).putHeader("ETag", "\"v" + id + "\"")
        .putHeader("Content-Type", "application/json").putHeader("X-Order-Version", "3").putHeader("X-Other", "no")
        .end(new JsonObject().put("order", id).put("key", request.getHeader("Idempotency-Key")).encode());
  }

  private static MultiMap headers(String key, String apiKey) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
    if (key != null) {
      headers.add("Idempotency-Key", key);
    }
    return apiKey == null ? headers : headers.add("X-Api-Key", apiKey);
  }

  private static Answer post(String path, String key, String body) {
    return client.call(HttpMethod.POST, path, headers(key, "client-a"), Buffer.buffer(body));
  }

  private static long reached(String path) {
    return upstream.received().stream().filter(r -> r.uri.equals(path)).count();
  }

  private static String key() {
    return UUID.randomUUID().toString();
  }

  @Test
  void aThousandSimultaneousDuplicatesReachTheUpstreamOnceAndEndWithOneAnswer_reject() {
    String key = key();
    List<Answer> finals = client.onContext(() -> {
      List<Future<Answer>> all = new ArrayList<>();
      for (int i = 0; i < SIMULTANEOUS; i++) {
        all.add(sendUntilNot409("/pay/storm", key, new AtomicInteger()));
      }
      return Future.all(all).map(done -> done.<Answer>list());
    });
    assertThat(reached("/pay/storm")).isEqualTo(1);
    assertOneAnswer(finals);
    assertThat(finals.stream().filter(a -> "true".equals(a.headers().get("Idempotent-Replayed")))).hasSize(SIMULTANEOUS - 1);
  }

  /** Under reject a duplicate gets 409 and retries, as a client following Retry-After (sooner, to keep the test short). */
  private static Future<Answer> sendUntilNot409(String path, String key, AtomicInteger conflicts) {
    return client.send(HttpMethod.POST, path, headers(key, "client-a"), Buffer.buffer("{\"amount\":5}"))
        .compose(answer -> {
          if (answer.status() != 409) {
            return Future.succeededFuture(answer);
          }
          assertThat(answer.headers().get("Retry-After")).isNotNull();
          assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:request-in-progress");
          conflicts.incrementAndGet();
          return vertx.timer(50).compose(t -> sendUntilNot409(path, key, conflicts));
        });
  }

  @Test
  void aThousandSimultaneousDuplicatesReachTheUpstreamOnceAndAllGetItsAnswer_wait() {
    String key = key();
    List<Answer> answers = client.onContext(() -> {
      List<Future<Answer>> all = new ArrayList<>();
      for (int i = 0; i < SIMULTANEOUS; i++) {
        all.add(client.send(HttpMethod.POST, "/wait/storm", headers(key, "client-a"), Buffer.buffer("{\"amount\":5}")));
      }
      return Future.all(all).map(done -> done.<Answer>list());
    });
    assertThat(reached("/wait/storm")).isEqualTo(1);
    assertOneAnswer(answers);
  }

  private static void assertOneAnswer(List<Answer> answers) {
    Answer first = answers.get(0);
    assertThat(answers).allSatisfy(answer -> {
      assertThat(answer.status()).isEqualTo(201);
      assertThat(answer.body()).isEqualTo(first.body());
      assertThat(answer.headers().get("Location")).isEqualTo(first.headers().get("Location"));
    });
    assertThat(answers.stream().map(Answer::requestId).distinct()).as("each request has its own id").hasSize(answers.size());
  }

  @Test
  void aRetryIsReplayedWithTheKeptHeadersAndTheKeyWentUpstream() {
    String key = key();
    Answer first = post("/pay/headers", key, "{\"amount\":7}");
    Answer retry = post("/pay/headers", key, "{\"amount\":7}");
    assertThat(first.status()).isEqualTo(201);
    assertThat(first.headers().get("Idempotent-Replayed")).isNull();
    assertThat(first.json().getString("key")).as("the key forwarded upstream").isEqualTo(key);
    assertThat(retry.status()).isEqualTo(201);
    assertThat(retry.body()).isEqualTo(first.body());
    assertThat(retry.headers().get("Idempotent-Replayed")).isEqualTo("true");
    for (String kept : List.of("Location", "ETag", "Content-Type", "X-Order-Version")) {
      assertThat(retry.headers().get(kept)).as(kept).isEqualTo(first.headers().get(kept));
    }
    assertThat(retry.headers().get("X-Other")).as("a header the route does not keep").isNull();
    assertThat(retry.requestId()).isNotEqualTo(first.requestId());
    assertThat(reached("/pay/headers")).isEqualTo(1);
    Await.until("the replay is recorded in its request's stream", Duration.ofSeconds(10),
        () -> eventTypes(retry.requestId()).equals(List.of("RequestAccepted", "RequestReplayed")));
  }

  private static List<String> eventTypes(String requestId) {
    List<String> types = new ArrayList<>();
    Await.result(database.preparedQuery("SELECT type FROM events WHERE stream_id = $1 ORDER BY stream_version")
        .execute(Tuple.of("request-" + requestId))).forEach(row -> types.add(row.getString(0)));
    return types;
  }

  @Test
  void theDurableAnswerIsCommittedWithTheCompletionEvent() {
    Answer first = post("/pay/durable", key(), "{\"amount\":8}");
    var row = Await.result(database.preparedQuery("SELECT r.state, r.answer, r.request_id,"
            + " (SELECT count(*) FROM events e WHERE e.stream_id = 'request-' || r.request_id"
            + "   AND e.type = 'RequestCompleted') AS completions"
            + " FROM idempotency_records r WHERE r.request_id = $1")
        .execute(Tuple.of(first.requestId()))).iterator().next();
    assertThat(row.getString("state")).isEqualTo("completed");
    assertThat(row.getJsonObject("answer").getInteger("status")).isEqualTo(201);
    assertThat(row.getLong("completions")).isEqualTo(1);
  }

  @Test
  void theSameKeyWithAnotherPayloadIs422AndNothingIsForwarded() {
    String key = key();
    post("/pay/mismatch", key, "{\"amount\":1}");
    Answer other = post("/pay/mismatch", key, "{\"amount\":2}");
    assertThat(other.status()).isEqualTo(422);
    assertThat(other.problem().getString("type")).isEqualTo("urn:unbroken:problem:idempotency-key-reused");
    Answer otherHeader = client.call(HttpMethod.POST, "/pay/mismatch",
        headers(key, "client-a").set("Content-Type", "text/plain"), Buffer.buffer("{\"amount\":1}"));
    assertThat(otherHeader.status()).as("a fingerprinted header differs").isEqualTo(422);
    assertThat(reached("/pay/mismatch")).isEqualTo(1);
  }

  @Test
  void aMissingOrMalformedKeyIs400() {
    assertThat(post("/pay/bad", null, "{}").problem().getString("type"))
        .isEqualTo("urn:unbroken:problem:idempotency-key-missing");
    for (String bad : List.of("", "x".repeat(256), "has space", "caf\u00e9")) {
      Answer answer = post("/pay/bad", bad, "{}");
      assertThat(answer.status()).as("key '%s'", bad).isEqualTo(400);
      assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:idempotency-key-invalid");
    }
    assertThat(post("/pay/bad", "x".repeat(255), "{}").status()).as("255 characters are allowed").isEqualTo(201);
    assertThat(reached("/pay/bad")).isEqualTo(1);
  }

  @Test
  void twoClientsUsingOneKeyNeverSeeEachOthersAnswers() {
    String key = key();
    Answer a = client.call(HttpMethod.POST, "/pay/principal", headers(key, "client-a"), Buffer.buffer("{}"));
    Answer b = client.call(HttpMethod.POST, "/pay/principal", headers(key, "client-b"), Buffer.buffer("{}"));
    Answer aAgain = client.call(HttpMethod.POST, "/pay/principal", headers(key, "client-a"), Buffer.buffer("{}"));
    assertThat(b.headers().get("Idempotent-Replayed")).isNull();
    assertThat(b.body()).isNotEqualTo(a.body());
    assertThat(aAgain.body()).isEqualTo(a.body());
    assertThat(reached("/pay/principal")).isEqualTo(2);
  }

  @Test
  void aServerErrorFreesTheKeySoTheRetryRunsAgain() {
    String key = key();
    Answer first = post("/flaky/once", key, "{}");
    Answer retry = post("/flaky/once", key, "{}");
    Answer third = post("/flaky/once", key, "{}");
    assertThat(first.status()).isEqualTo(503);
    assertThat(retry.status()).isEqualTo(201);
    assertThat(third.status()).isEqualTo(201);
    assertThat(third.headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(reached("/flaky/once")).isEqualTo(2);
  }

  @Test
  void aClientThatTimedOutRetriesAndGetsTheFirstAttemptsAnswer() {
    String key = key();
    long started = System.nanoTime();
    Answer timedOut = post("/slow/charge", key, "{\"amount\":5}");
    assertThat(timedOut.status()).isEqualTo(504);
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(2_900));
    Answer retry = client.onContext(() -> sendUntilNot409("/slow/charge", key, new AtomicInteger()));
    assertThat(retry.status()).isEqualTo(201);
    assertThat(retry.headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(reached("/slow/charge")).as("the upstream ran once").isEqualTo(1);
    assertThat(upstream.received().stream().filter(r -> r.uri.equals("/slow/charge")).findFirst().get().closedBeforeAnswer)
        .as("the upstream call was not cancelled").isFalse();
  }

  /**
   * A retrying client (retries on 502/503/504, takes 409 as final) against a route that holds
   * duplicates: its retry is held while the first attempt runs on past both deadlines, and ends
   * like a timeout, not 409; the retry after that gets the first attempt's answer.
   */
  @Test
  void aHeldDuplicateWhoseDeadlinePassesEndsLikeATimeoutNamingTheAttemptStillRunning() {
    String key = key();
    String uri = "/slowheld/charge";
    Answer first = post(uri, key, "{\"amount\":5}");
    Answer held = post(uri, key, "{\"amount\":5}");
    assertThat(first.status()).isEqualTo(504);
    assertThat(held.status()).as("held until its deadline: a timeout, which a retrying client retries").isEqualTo(504);
    assertThat(held.headers().get("Retry-After")).as("Retry-After").isNotNull();
    assertThat(held.problem().getString("runningRequestId")).isEqualTo(first.requestId());
    Answer[] retry = new Answer[1];
    Await.until("a retry gets the first attempt's answer", Duration.ofSeconds(10), () -> {
      retry[0] = post(uri, key, "{\"amount\":5}");
      return retry[0].status() != 504;
    });
    assertThat(retry[0].status()).isEqualTo(201);
    assertThat(retry[0].headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(reached(uri)).as("the upstream ran once").isEqualTo(1);
  }

  @Test
  void aCompletedAnswerExpiresAfterTheRoutesTimeToLive() {
    String key = key();
    Answer first = post("/ttl/order", key, "{}");
    assertThat(post("/ttl/order", key, "{}").headers().get("Idempotent-Replayed")).isEqualTo("true");
    Await.until("the answer expired and a retry runs again", Duration.ofSeconds(10),
        () -> post("/ttl/order", key, "{}").headers().get("Idempotent-Replayed") == null);
    assertThat(first.status()).isEqualTo(201);
    assertThat(reached("/ttl/order")).isEqualTo(2);
  }

  @Test
  void anUpstreamThatWentAwayMidRequestLeavesTheOutcomeUnknownAndTheRetryRunsAgain() {
    String key = key();
    Answer first = post("/reset/order", key, "{}");
    assertThat(first.status()).isEqualTo(502);
    assertThat(eventTypes(first.requestId())).as("a sync route records the failure before answering")
        .containsExactly("RequestAccepted", "RequestForwarded", "RequestFailed");
    Answer retry = post("/reset/order", key, "{}");
    assertThat(retry.status()).isEqualTo(502);
    assertThat(reached("/reset/order")).as("unknown: retry forwards again, with the same key").isEqualTo(2);
    assertThat(upstream.received().stream().filter(r -> r.uri.equals("/reset/order")).map(r -> r.headers.get("Idempotency-Key")))
        .containsOnly(key);
  }

  @Test
  void aSilentUpstreamIsResetAt504AndUnderUnknownRetryTheRetryRunsAgain() {
    String key = key();
    Answer first = post("/silent/order", key, "{}");
    assertThat(first.status()).isEqualTo(504);
    assertThat(first.problem().getString("type")).isEqualTo("urn:unbroken:problem:upstream-silent");
    Await.until("the silent call was reset", Duration.ofSeconds(5), () -> upstream.received().stream()
        .filter(r -> r.uri.equals("/silent/order")).findFirst().orElseThrow().closedBeforeAnswer);
    assertThat(eventTypes(first.requestId())).containsExactly("RequestAccepted", "RequestForwarded", "RequestFailed");
    Answer retry = post("/silent/order", key, "{}");
    assertThat(retry.status()).as("the key was freed: the retry ran and was answered").isEqualTo(201);
    assertThat(reached("/silent/order")).isEqualTo(2);
  }

  @Test
  void underUnknownHoldTheRetryOfAnAttemptWithoutAnswerIs503AndTheKeyIsKeptForReview() {
    String key = key();
    Answer first = post("/held/order", key, "{}");
    assertThat(first.status()).isEqualTo(502);
    // A sync route answers once the key's record is committed, so it is there as the client hears.
    var rows = Await.result(database.preparedQuery("SELECT state FROM idempotency_records WHERE request_id = $1")
        .execute(Tuple.of(first.requestId())));
    assertThat(rows.size()).as("records of request %s", first.requestId()).isEqualTo(1);
    assertThat(rows.iterator().next().getString("state")).isEqualTo("unknown");
    Answer retry = post("/held/order", key, "{}");
    assertThat(retry.status()).isEqualTo(503);
    assertThat(retry.problem().getString("type")).isEqualTo("urn:unbroken:problem:outcome-unknown");
    assertThat(reached("/held/order")).isEqualTo(1);

    TestClient admin = new TestClient(vertx, config.admin().port(), 1);
    String freeKey = "/admin/requests/" + first.requestId() + "/idempotency-key";
    assertThat(admin.call(HttpMethod.DELETE, freeKey).status()).as("an operator frees the key").isEqualTo(204);
    assertThat(admin.call(HttpMethod.DELETE, freeKey).status()).as("freed already").isEqualTo(409);
    Answer again = post("/held/order", key, "{}");
    assertThat(again.status()).as("the next retry runs again (and is lost again)").isEqualTo(502);
    assertThat(reached("/held/order")).isEqualTo(2);
    assertThat(post("/held/order", key, "{}").status()).as("held again").isEqualTo(503);
    assertThat(admin.call(HttpMethod.DELETE, "/admin/requests/4242/idempotency-key").status()).isEqualTo(404);
  }

  @Test
  void anAnswerTooLargeToKeepIsAProblemThatRetriesGetTooWithoutRunningAgain() {
    String key = key();
    Answer first = post("/large/report", key, "{}");
    Answer retry = post("/large/report", key, "{}");
    assertThat(first.status()).isEqualTo(502);
    assertThat(first.problem().getString("type")).isEqualTo("urn:unbroken:problem:answer-too-large");
    assertThat(first.problem().getString("detail")).contains("status 201");
    assertThat(retry.status()).isEqualTo(502);
    assertThat(retry.headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(reached("/large/report")).as("the upstream acted once: never again for this key").isEqualTo(1);
  }

  @Test
  void aTooLargeAnswerThatFreesTheKeyAnywayLetsTheRetryRunAgain() {
    String key = key();
    Answer first = post("/bigerror/report", key, "{}");
    Answer retry = post("/bigerror/report", key, "{}");
    assertThat(first.status()).isEqualTo(502);
    assertThat(retry.status()).isEqualTo(502);
    assertThat(retry.headers().get("Idempotent-Replayed")).isNull();
    assertThat(reached("/bigerror/report")).as("a 503 frees the key, whatever its size").isEqualTo(2);
  }

  @Test
  void aClientExpectingContinueIsToldToSendItsBody() {
    Answer answer = client.call(HttpMethod.POST, "/pay/continue", headers(key(), "client-a").add("Expect", "100-continue"),
        Buffer.buffer("{\"amount\":3}"));
    assertThat(answer.status()).isEqualTo(201);
    assertThat(reached("/pay/continue")).isEqualTo(1);
  }

  @Test
  void optionalRoutesForwardRequestsWithoutAKeyEveryTime() {
    post("/ttl/nokey", null, "{}");
    post("/ttl/nokey", null, "{}");
    assertThat(reached("/ttl/nokey")).isEqualTo(2);
  }

  @Test
  void claimsAndReplaysAreCounted() {
    List<String> meters = List.of("unbroken_idempotency_claims_total{outcome=\"claimed\"}",
        "unbroken_idempotency_claims_total{outcome=\"completed\"}", "unbroken_idempotency_claims_total{outcome=\"mismatch\"}",
        "unbroken_idempotency_replays_total", "unbroken_idempotency_mismatches_total",
        "unbroken_idempotency_filter_negatives_total");
    List<Double> before = values(scrape(), meters);
    String key = key();
    post("/pay/metrics", key, "{}");
    post("/pay/metrics", key, "{}");
    post("/pay/metrics", key, "{\"other\":1}");
    List<Double> after = values(scrape(), meters);
    List<Double> added = new ArrayList<>();
    for (int i = 0; i < meters.size(); i++) {
      added.add(after.get(i) - before.get(i));
    }
    assertThat(added).as("one claim, one replay, one mismatch; the new key passed the filter").containsExactly(
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0);
  }

  /** The value of each meter line, 0 for a meter not listed yet. */
  private static List<Double> values(String metrics, List<String> meters) {
    return meters.stream().map(meter -> metrics.lines().filter(line -> line.startsWith(meter + " "))
        .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).findFirst().orElse(0))
        .toList();
  }

  private static String scrape() {
    TestClient admin = new TestClient(vertx, config.admin().port(), 1);
    return admin.get("/metrics").body().toString();
  }
}
