package io.unbroken.saga;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.ConfigLoader;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.embedded.Ledgers;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestServices;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sagas on one node with Redis and PostgreSQL, against ledgers that count how often each action
 * was applied and reversed: completion, reverse-order compensation exactly once, retries under one
 * key, review after the compensation deadline and an operator's way out of it.
 */
class SagaIT {

  private static final SwitchableFaults faults = new SwitchableFaults(Duration.ofSeconds(2));
  private static Vertx vertx;
  private static HttpServer ledgerServer;
  private static UnbrokenNode node;
  private static TestClient gateway;
  private static TestClient admin;
  private static TestClient ledgers;

  @BeforeAll
  static void start(@TempDir Path dir) throws IOException {
    vertx = Vertx.vertx();
    int ledgerPort = FreePorts.next();
    ledgerServer = Await.result(vertx.createHttpServer().requestHandler(new Ledgers(vertx, faults))
        .listen(ledgerPort, "127.0.0.1"));
    UnbrokenConfig.Redis redis = TestServices.redis("sagas");
    UnbrokenConfig.Postgres postgres = TestServices.migratedDatabase("sagas_it");
    String yaml = """
        server: { host: 127.0.0.1, port: %d }
        admin: { host: 127.0.0.1, port: %d }
        redis: { url: "%s", keyPrefix: %s }
        postgres: { url: "%s" }
        node: { workerLease: 2s, heartbeat: 500ms }
        routes:
          - { prefix: /ledgers, upstream: "http://127.0.0.1:%d" }
        """.formatted(FreePorts.next(), FreePorts.next(), redis.url(), redis.keyPrefix(), postgres.url(), ledgerPort)
        + SagaYaml.orderSaga(ledgerPort, "10s", "500ms", "1s")
        + SagaYaml.saga("impatient", "/quick-orders", ledgerPort, "100ms", "500ms", "1s");
    Path file = Files.writeString(dir.resolve("unbroken.yaml"), yaml);
    UnbrokenConfig config = new ConfigLoader(name -> null).load(Optional.of(file), Map.of());
    node = Await.result(UnbrokenNode.start(config));
    gateway = new TestClient(vertx, config.server().port(), 8);
    admin = new TestClient(vertx, config.admin().port(), 2);
    ledgers = new TestClient(vertx, ledgerPort, 2);
  }

  @AfterAll
  static void stop() {
    Await.result(node.close());
    Await.result(vertx.close());
  }

  @AfterEach
  void mendTheLedgers() {
    faults.breakActions(Ledgers.Fault.NONE, 0);
    faults.breakCompensations(Ledgers.Fault.NONE);
  }

  @Test
  void aSagaCompletesEachActionAppliedOnceAndItsLogTellsHow() {
    TestClient.Answer answer = order(new JsonObject().put("amount", 5));

    assertThat(answer.status()).isEqualTo(200);
    String id = answer.headers().get("X-Saga-Id");
    assertThat(answer.json().getString("status")).isEqualTo("completed");
    assertThat(answer.json().getJsonObject("steps").getJsonObject("pay").getString("ref")).isEqualTo(id);
    for (String ledger : List.of("inventory", "payments", "shipping")) {
      assertThat(entry(ledger, id)).isEqualTo("1 applied, 0 reversed");
    }
    assertThat(types(id)).containsExactly("SagaStarted", "StepStarted", "StepSucceeded", "StepStarted", "StepSucceeded",
        "StepStarted", "StepSucceeded", "SagaCompleted");
    assertThat(events(id).stream().map(e -> e.getJsonObject("metadata").getLong("fence")).distinct()).containsExactly(1L);
  }

  @Test
  void aFailingLastStepCompensatesTheEarlierOnesInReverseOrderExactlyOnce() {
    TestClient.Answer answer = order(new JsonObject().put("amount", 5).put("failship", true));

    assertThat(answer.status()).isEqualTo(409);
    assertThat(answer.problem().getString("failedStep")).isEqualTo("ship");
    String id = answer.headers().get("X-Saga-Id");
    assertThat(entry("inventory", id)).isEqualTo("1 applied, 1 reversed");
    assertThat(entry("payments", id)).isEqualTo("1 applied, 1 reversed");
    assertThat(entry("shipping", id)).as("refused: never applied, so never reversed").isEqualTo("0 applied, 0 reversed");
    List<String> compensations = events(id).stream().filter(e -> e.getString("type").startsWith("Compensation"))
        .map(e -> e.getString("type") + " " + e.getJsonObject("data").getString("step")).toList();
    assertThat(compensations).containsExactly("CompensationStarted pay", "CompensationSucceeded pay",
        "CompensationStarted reserve", "CompensationSucceeded reserve");
    assertThat(types(id)).endsWith("SagaCompensated");
  }

  @Test
  void aCallThatActedButFailedIsRetriedUnderTheSameKeySoItActsOnce() {
    faults.breakActions(Ledgers.Fault.UNAVAILABLE_AFTER, 1);
    TestClient.Answer first = order(new JsonObject().put("amount", 5));
    faults.breakActions(Ledgers.Fault.RESET_AFTER, 1);
    TestClient.Answer second = order(new JsonObject().put("amount", 5));
    faults.breakActions(Ledgers.Fault.SILENT_AFTER, 1);
    TestClient.Answer third = order(new JsonObject().put("amount", 5));

    for (TestClient.Answer answer : List.of(first, second, third)) {
      assertThat(answer.status()).isEqualTo(200);
      String id = answer.headers().get("X-Saga-Id");
      assertThat(entry("inventory", id)).as("applied, failed, retried").isEqualTo("1 applied, 0 reversed");
      JsonObject reserve = step(id, "reserve");
      assertThat(reserve.getJsonObject("action").getInteger("attempts")).isEqualTo(2);
    }
  }

  @Test
  void aCompensationThatKeepsFailingGoesToReviewAndAnOperatorsRetryFinishesIt() {
    faults.breakCompensations(Ledgers.Fault.UNAVAILABLE_BEFORE);
    TestClient.Answer answer = order(new JsonObject().put("amount", 5).put("failship", true));

    assertThat(answer.status()).isEqualTo(502);
    String id = answer.headers().get("X-Saga-Id");
    JsonObject listed = admin.get("/admin/sagas?status=review").json().getJsonArray("sagas").stream()
        .map(JsonObject.class::cast).filter(s -> s.getString("id").equals(id)).findFirst().orElseThrow();
    assertThat(listed.getString("step")).isEqualTo("pay");
    assertThat(listed.getJsonObject("lastAnswer").getJsonObject("answer").getInteger("status")).isEqualTo(503);
    assertThat(listed.getString("reason")).contains("answered 503");
    assertThat(entry("payments", id)).isEqualTo("1 applied, 0 reversed");

    faults.breakCompensations(Ledgers.Fault.NONE);
    TestClient.Answer retried = act(id, "retry", "why", "payments is back");

    assertThat(retried.status()).isEqualTo(200);
    Await.until("the retried saga compensated", Duration.ofSeconds(10),
        () -> "compensated".equals(admin.get("/admin/sagas/" + id).json().getString("status")));
    assertThat(entry("payments", id)).isEqualTo("1 applied, 1 reversed");
    assertThat(entry("inventory", id)).isEqualTo("1 applied, 1 reversed");
    JsonObject retry = events(id).stream().filter(e -> e.getString("type").equals("SagaRetried")).findFirst().orElseThrow();
    assertThat(retry.getJsonObject("data").getString("by")).isEqualTo("ann");
    assertThat(retry.getJsonObject("data").getString("why")).isEqualTo("payments is back");
    assertThat(types(id)).contains("SagaResumed").endsWith("SagaCompensated");
  }

  @Test
  void anOperatorSkipsACompensationDoneByHandOrResolvesTheSagaWithANote() {
    faults.breakCompensations(Ledgers.Fault.UNAVAILABLE_BEFORE);
    String skipped = order(new JsonObject().put("amount", 5).put("failship", true)).headers().get("X-Saga-Id");
    String resolved = order(new JsonObject().put("amount", 5).put("failship", true)).headers().get("X-Saga-Id");
    faults.breakCompensations(Ledgers.Fault.NONE);

    assertThat(act(skipped, "skip", "why", "refunded by hand").status()).isEqualTo(200);
    assertThat(act(resolved, "resolve", "note", "customer kept the goods").status()).isEqualTo(200);
    Await.until("the skipped saga compensated", Duration.ofSeconds(10),
        () -> "compensated".equals(admin.get("/admin/sagas/" + skipped).json().getString("status")));

    assertThat(entry("payments", skipped)).as("done by hand: not reversed again")
        .isEqualTo("1 applied, 0 reversed");
    assertThat(entry("inventory", skipped)).isEqualTo("1 applied, 1 reversed");
    assertThat(admin.get("/admin/sagas/" + resolved).json().getString("status")).isEqualTo("resolved");
    assertThat(act(resolved, "retry", "why", "again").status()).as("no longer in review").isEqualTo(409);
    assertThat(act("123", "retry", "why", "x").status()).isEqualTo(404);
    assertThat(act(skipped, "retry", "why", "").status()).as("no reason").isEqualTo(400);
  }

  @Test
  void aSagasStateAsOfAnEarlierTimeAndBadInputs() {
    String id = order(new JsonObject().put("amount", 5)).headers().get("X-Saga-Id");
    JsonArray timeline = admin.get("/admin/sagas/" + id).json().getJsonArray("events");
    String firstRecorded = timeline.getJsonObject(0).getString("recordedAt");

    JsonObject early = admin.get("/admin/sagas/" + id + "?asOf=" + firstRecorded).json();

    assertThat(early.getString("status")).isEqualTo("running");
    assertThat(early.getJsonArray("events")).hasSizeLessThan(timeline.size());
    assertThat(gateway.call(HttpMethod.POST, "/orders", MultiMap.caseInsensitiveMultiMap(), Buffer.buffer("[1]"))
        .status()).isEqualTo(400);
    assertThat(gateway.get("/orders").status()).isEqualTo(405);
    assertThat(admin.get("/admin/sagas?status=lost").status()).isEqualTo(400);
    assertThat(admin.get("/admin/sagas/summary").json().getLong("completed")).isPositive();
    assertThat(Instant.parse(firstRecorded)).isBefore(Instant.now().plusSeconds(60));
  }

  @Test
  void aSagaThatOutlivesItsClientsWaitIsFollowedOnTheClientListener() {
    faults.breakActions(Ledgers.Fault.SILENT_AFTER, 1);
    TestClient.Answer accepted = gateway.call(HttpMethod.POST, "/quick-orders", MultiMap.caseInsensitiveMultiMap(),
        new JsonObject().put("amount", 5).toBuffer());

    assertThat(accepted.status()).isEqualTo(202);
    String id = accepted.headers().get("X-Saga-Id");
    String location = accepted.headers().get("Location");
    assertThat(location).startsWith("/unbroken/sagas/" + id + "/").hasSizeGreaterThan(("/unbroken/sagas/" + id + "/").length() + 30);
    assertThat(gateway.get(location).status()).as("still waiting for its first answer").isEqualTo(202);
    Await.until("the saga ended", Duration.ofSeconds(10), () -> gateway.get(location).status() != 202);
    TestClient.Answer ended = gateway.get(location);
    assertThat(ended.status()).isEqualTo(200);
    assertThat(ended.json().getString("status")).isEqualTo("completed");
    assertThat(ended.json().getJsonObject("steps").getJsonObject("ship").getString("ref")).isEqualTo(id);
    assertThat(entry("inventory", id)).isEqualTo("1 applied, 0 reversed");
    assertThat(gateway.get("/unbroken/sagas/" + id + "/" + "0".repeat(32)).status()).as("a guessed token").isEqualTo(404);
    assertThat(gateway.get("/unbroken/sagas/123/" + location.substring(location.lastIndexOf('/') + 1)).status())
        .as("another saga's token").isEqualTo(404);
    assertThat(gateway.call(HttpMethod.DELETE, location).status()).isEqualTo(405);
  }

  @Test
  void aStartRetriedUnderItsIdempotencyKeyFindsTheFirstSagaInsteadOfRunningASecond() {
    String key = "order-" + System.nanoTime();
    TestClient.Answer first = order(key, new JsonObject().put("amount", 5));
    TestClient.Answer retry = order(key, new JsonObject().put("amount", 5));

    assertThat(first.status()).isEqualTo(200);
    assertThat(retry.status()).isEqualTo(200);
    String id = first.headers().get("X-Saga-Id");
    assertThat(retry.headers().get("X-Saga-Id")).isEqualTo(id);
    assertThat(retry.headers().get("Idempotent-Replayed")).isEqualTo("true");
    assertThat(retry.json()).isEqualTo(first.json());
    assertThat(entry("payments", id)).as("charged once").isEqualTo("1 applied, 0 reversed");
    assertThat(types(id).stream().filter("SagaStarted"::equals)).hasSize(1);
    assertThat(order(key, new JsonObject().put("amount", 6)).status()).as("another input").isEqualTo(422);
    assertThat(order("k".repeat(256), new JsonObject().put("amount", 5)).status()).as("too long a key").isEqualTo(400);

    faults.breakActions(Ledgers.Fault.SILENT_AFTER, 1);
    String slowKey = "slow-" + System.nanoTime();
    TestClient.Answer accepted = order("/quick-orders", slowKey, new JsonObject().put("amount", 5));
    TestClient.Answer retriedWhileRunning = order("/quick-orders", slowKey, new JsonObject().put("amount", 5));
    assertThat(accepted.status()).isEqualTo(202);
    assertThat(retriedWhileRunning.status()).isEqualTo(202);
    assertThat(retriedWhileRunning.headers().get("Location")).isEqualTo(accepted.headers().get("Location"));
  }

  @Test
  void metricsCountSagasCallsCompensationsRetriesAndTheReviewQueue() {
    order(new JsonObject().put("amount", 5));
    faults.breakActions(Ledgers.Fault.UNAVAILABLE_BEFORE, 1);
    order(new JsonObject().put("amount", 5).put("failship", true));

    Await.until("the review depth exported", Duration.ofSeconds(5),
        () -> admin.get("/metrics").body().toString().contains("unbroken_sagas_review_depth "));
    String metrics = admin.get("/metrics").body().toString();
    assertThat(metrics).contains("unbroken_sagas_started_total{saga=\"order\"}")
        .contains("unbroken_sagas_ended_total{outcome=\"completed\",saga=\"order\"}")
        .contains("unbroken_sagas_ended_total{outcome=\"compensated\",saga=\"order\"}")
        .contains("unbroken_saga_step_calls_total{kind=\"action\",saga=\"order\",verdict=\"try-again\"}")
        .contains("unbroken_saga_step_calls_total{kind=\"compensate\",saga=\"order\",verdict=\"succeeded\"}")
        .contains("unbroken_saga_compensations_total{saga=\"order\"}")
        .contains("unbroken_saga_retries_total{kind=\"action\",saga=\"order\"}")
        .contains("unbroken_saga_duration_seconds_bucket{outcome=\"completed\",saga=\"order\"");
  }

  private static TestClient.Answer order(JsonObject input) {
    return gateway.call(HttpMethod.POST, "/orders", MultiMap.caseInsensitiveMultiMap(), input.toBuffer());
  }

  private static TestClient.Answer order(String key, JsonObject input) {
    return order("/orders", key, input);
  }

  private static TestClient.Answer order(String path, String key, JsonObject input) {
    return gateway.call(HttpMethod.POST, path, MultiMap.caseInsensitiveMultiMap().add("Idempotency-Key", key),
        input.toBuffer());
  }

  private static TestClient.Answer act(String id, String action, String member, String why) {
    return admin.call(HttpMethod.POST, "/admin/sagas/" + id + "/" + action,
        MultiMap.caseInsensitiveMultiMap().add("X-Operator", "ann"), new JsonObject().put(member, why).toBuffer());
  }

  /** How often the ledger applied and reversed the saga's action, or null when it never did either. */
  private static String entry(String ledger, String ref) {
    TestClient.Answer answer = ledgers.get("/ledgers/" + ledger + "/entries/" + ref);
    return answer.status() == 404 ? null
        : answer.json().getInteger("applied") + " applied, " + answer.json().getInteger("reversed") + " reversed";
  }

  private static List<JsonObject> events(String id) {
    return admin.get("/admin/sagas/" + id).json().getJsonArray("events").stream().map(JsonObject.class::cast).toList();
  }

  private static List<String> types(String id) {
    return events(id).stream().map(e -> e.getString("type")).toList();
  }

  private static JsonObject step(String id, String name) {
    return admin.get("/admin/sagas/" + id).json().getJsonArray("steps").stream().map(JsonObject.class::cast)
        .filter(s -> s.getString("name").equals(name)).findFirst().orElseThrow();
  }
}
