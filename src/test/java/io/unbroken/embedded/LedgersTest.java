package io.unbroken.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.embedded.Ledgers.Fault;
import io.unbroken.embedded.Ledgers.Operation;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestClient;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The ledgers over real HTTP: replays by key, honest double application, tombstones, refusals and faults. */
@ExtendWith(VertxExtension.class)
class LedgersTest {

  private static final Duration SILENCE = Duration.ofMillis(300);

  /** Faults a test lines up call by call; refs it names are refused for good. */
  private static final class ScriptedFaults implements Ledgers.Faults {
    final Queue<Fault> next = new ConcurrentLinkedQueue<>();
    final Set<String> refused = ConcurrentHashMap.newKeySet();

    @Override
    public Fault next(Operation operation) {
      Fault fault = next.poll();
      return fault == null ? Fault.NONE : fault;
    }

    @Override
    public boolean refuses(String ledger, String ref) {
      return refused.contains(ledger + "/" + ref);
    }

    @Override
    public Duration silence() {
      return SILENCE;
    }
  }

  private final ScriptedFaults faults = new ScriptedFaults();
  private TestClient client;

  @BeforeEach
  void serveLedgers(Vertx vertx) {
    int port = FreePorts.next();
    Await.result(vertx.createHttpServer().requestHandler(new Ledgers(vertx, faults)).listen(port, "127.0.0.1"));
    client = new TestClient(vertx, port, 16);
  }

  @Test
  void aRetryWithTheSameKeyGetsTheSameAnswerAndNothingIsAppliedAgain() {
    Answer first = act("inventory", "k1", entry("order-1", 12));
    Answer retry = act("inventory", "k1", entry("order-1", 12));

    assertThat(first.status()).isEqualTo(201);
    assertThat(first.json()).isEqualTo(new JsonObject().put("ledger", "inventory").put("ref", "order-1")
        .put("entry", "inventory-1").put("amount", 12));
    assertThat(retry.status()).isEqualTo(201);
    assertThat(retry.body()).isEqualTo(first.body());
    assertThat(entryOf("inventory", "order-1")).isEqualTo(counts(1, 0));
  }

  @Test
  void theSameActionUnderAnotherKeyIsAppliedAgainForAllToSee() {
    Answer first = act("payments", "k1", entry("order-1", 5));
    Answer second = act("payments", "k2", entry("order-1", 5));

    assertThat(first.json().getString("entry")).isEqualTo("payments-1");
    assertThat(second.status()).isEqualTo(201);
    assertThat(second.json().getString("entry")).isEqualTo("payments-2");
    assertThat(client.get("/ledgers/payments").json()).isEqualTo(new JsonObject().put("ledger", "payments")
        .put("entries", new JsonObject().put("order-1", counts(2, 0))));
  }

  @Test
  void aReversalBeforeItsActionLeavesATombstoneThatRefusesTheLateAction() {
    Answer reversal = reverse("shipping", "r1", "order-1");
    Answer late = act("shipping", "a1", entry("order-1", 3));
    Answer lateAgain = act("shipping", "a1", entry("order-1", 3));

    assertThat(reversal.status()).isEqualTo(200);
    assertThat(reversal.json()).isEqualTo(new JsonObject().put("ref", "order-1").put("reversed", false));
    assertThat(late.status()).isEqualTo(409);
    assertThat(late.problem().getString("type")).isEqualTo("urn:unbroken:problem:ledger-reversed-before-applied");
    assertThat(late.problem().getString("ref")).isEqualTo("order-1");
    assertThat(lateAgain.status()).isEqualTo(409);
    assertThat(lateAgain.body()).isEqualTo(late.body());
    assertThat(act("shipping", "a2", entry("order-1", 3)).status()).as("under another key too").isEqualTo(409);
    assertThat(entryOf("shipping", "order-1")).isEqualTo(counts(0, 0).put("tombstone", true));
  }

  @Test
  void aRefIsReversedOnceWhateverTheKeys() {
    act("inventory", "a1", entry("order-1", 12));

    Answer first = reverse("inventory", "r1", "order-1");
    Answer replay = reverse("inventory", "r1", "order-1");
    Answer otherKey = reverse("inventory", "r2", "order-1");

    JsonObject reversed = new JsonObject().put("ref", "order-1").put("reversed", true);
    assertThat(first.status()).isEqualTo(200);
    assertThat(first.json()).isEqualTo(reversed);
    assertThat(replay.body()).isEqualTo(first.body());
    assertThat(otherKey.status()).isEqualTo(200);
    assertThat(otherKey.json()).isEqualTo(reversed);
    assertThat(entryOf("inventory", "order-1")).isEqualTo(counts(1, 1));
  }

  @Test
  void theFailSwitchRefusesWith422AndTheKeyKeepsTheRefusal() {
    Answer refused = act("payments", "k1", entry("order-1", 5).put("fail", true));
    Answer retry = act("payments", "k1", entry("order-1", 5));

    assertThat(refused.status()).isEqualTo(422);
    JsonObject problem = refused.problem();
    assertThat(problem.getString("type")).isEqualTo("urn:unbroken:problem:ledger-refused");
    assertThat(problem.getString("title")).isNotBlank();
    assertThat(problem.getInteger("status")).isEqualTo(422);
    assertThat(problem.getString("detail")).contains("order-1");
    assertThat(retry.status()).isEqualTo(422);
    assertThat(retry.body()).isEqualTo(refused.body());
    assertThat(entryOf("payments", "order-1")).isEqualTo(counts(0, 0).put("refused", true));
  }

  @Test
  void aRefTheFaultsRefuseIsRefusedUnderEveryKey() {
    faults.refused.add("payments/order-9");

    assertThat(act("payments", "k1", entry("order-9", 5)).status()).isEqualTo(422);
    assertThat(act("payments", "k2", entry("order-9", 5)).status()).isEqualTo(422);
    assertThat(act("inventory", "k1", entry("order-9", 5)).status()).as("on another ledger").isEqualTo(201);
  }

  @Test
  void writesNeedAKeyAndAWellFormedBody() {
    Answer noKey = client.call(HttpMethod.POST, "/ledgers/inventory/entries", headers(null),
        entry("order-1", 1).toBuffer());
    Answer noAmount = act("inventory", "k1", new JsonObject().put("ref", "order-1"));
    Answer notJson = client.call(HttpMethod.POST, "/ledgers/inventory/entries", headers("k2"), Buffer.buffer("{"));
    Answer reversalNoKey = client.call(HttpMethod.POST, "/ledgers/inventory/reversals", headers(null),
        new JsonObject().put("ref", "order-1").toBuffer());

    assertThat(noKey.status()).isEqualTo(400);
    assertThat(noKey.problem().getString("type")).endsWith(":idempotency-key-required");
    assertThat(noAmount.status()).isEqualTo(400);
    assertThat(noAmount.problem().getString("type")).endsWith(":bad-request");
    assertThat(notJson.status()).isEqualTo(400);
    assertThat(reversalNoKey.status()).isEqualTo(400);
    assertThat(client.get("/ledgers/inventory/entries/order-1").status()).isEqualTo(404);
    assertThat(client.get("/ledgers/inventory/entries/order-1").problem().getInteger("status")).isEqualTo(404);
  }

  @Test
  void aFaultBeforeTheWriteWritesNothingAndOneAfterItStillWrites() {
    faults.next.add(Fault.UNAVAILABLE_BEFORE);
    assertThat(act("inventory", "k1", entry("before", 1)).status()).isEqualTo(503);
    assertThat(client.get("/ledgers/inventory/entries/before").status()).isEqualTo(404);
    assertThat(act("inventory", "k1", entry("before", 1)).status()).as("the retry").isEqualTo(201);

    faults.next.add(Fault.UNAVAILABLE_AFTER);
    Answer lost = act("inventory", "k2", entry("after", 1));
    Answer retry = act("inventory", "k2", entry("after", 1));
    assertThat(lost.status()).isEqualTo(503);
    assertThat(lost.problem().getString("type")).endsWith(":ledger-unavailable");
    assertThat(retry.status()).isEqualTo(201);
    assertThat(entryOf("inventory", "after")).isEqualTo(counts(1, 0));
  }

  @Test
  void aResetAfterTheWriteLeavesTheCallerWithoutAnAnswerButTheEntryWritten() {
    faults.next.add(Fault.RESET_AFTER);

    Throwable failure = Await.failure(client.startOnContext(() -> client.send(HttpMethod.POST,
        "/ledgers/inventory/entries", headers("k1"), entry("reset", 1).toBuffer())));

    assertThat(failure).isNotNull();
    assertThat(entryOf("inventory", "reset")).isEqualTo(counts(1, 0));
  }

  @Test
  void aSilentCallWritesAtOnceAndAnswersOnlyAfterItsSilence() {
    faults.next.add(Fault.SILENT_AFTER);
    long started = System.nanoTime();
    Future<Answer> silent = client.startOnContext(() -> client.send(HttpMethod.POST,
        "/ledgers/inventory/entries", headers("k1"), entry("silent", 1).toBuffer()));

    Await.until("the silent call's entry is written", Duration.ofSeconds(5),
        () -> client.get("/ledgers/inventory/entries/silent").status() == 200);
    Answer answer = Await.result(silent);

    assertThat(answer.status()).isEqualTo(201);
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(SILENCE);
  }

  @Test
  void twoHundredSimultaneousCallsWithOneKeyApplyOnceAndAllGetTheFirstAnswer() {
    Buffer body = entry("storm", 7).toBuffer();

    List<Answer> answers = client.onContext(() -> {
      List<Future<Answer>> calls = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        calls.add(client.send(HttpMethod.POST, "/ledgers/payments/entries", headers("one-key"), body));
      }
      return Future.all(calls).map(all -> calls.stream().map(Future::result).toList());
    });

    assertThat(answers).allSatisfy(answer -> assertThat(answer.status()).isEqualTo(201));
    assertThat(answers.stream().map(answer -> answer.json().getString("entry")).distinct()).containsExactly("payments-1");
    assertThat(entryOf("payments", "storm")).isEqualTo(counts(1, 0));
  }

  @Test
  void chaosRefusesTheSameRefsOnEveryCallAndDrawsItsSharesFromItsSeed() {
    ChaosFaults chaos = new ChaosFaults(42, 0.2, 0.1, 0.02, Duration.ofSeconds(3));
    ChaosFaults again = new ChaosFaults(42, 0.2, 0.1, 0.02, Duration.ofSeconds(3));
    int refs = 20_000;
    int refused = 0;
    int broken = 0;
    for (int i = 0; i < refs; i++) {
      boolean refuses = chaos.refuses("payments", "saga-" + i);
      assertThat(chaos.refuses("payments", "saga-" + i)).isEqualTo(refuses);
      assertThat(again.refuses("payments", "saga-" + i)).isEqualTo(refuses);
      refused += refuses ? 1 : 0;
      Fault fault = chaos.next(Operation.ACTION);
      assertThat(again.next(Operation.ACTION)).isEqualTo(fault);
      broken += fault == Fault.NONE ? 0 : 1;
    }

    assertThat(refused / (double) refs).isBetween(0.015, 0.025);
    assertThat(broken / (double) refs).isBetween(0.18, 0.22);
    assertThat(chaos.injected().get(Operation.ACTION).keySet()).containsExactlyInAnyOrder(
        Fault.UNAVAILABLE_BEFORE, Fault.UNAVAILABLE_AFTER, Fault.RESET_AFTER, Fault.SILENT_AFTER);
    assertThat(chaos.injected().get(Operation.ACTION).values().stream().mapToLong(Long::longValue).sum())
        .isEqualTo(broken);
  }

  private Answer act(String ledger, String key, JsonObject body) {
    return client.call(HttpMethod.POST, "/ledgers/" + ledger + "/entries", headers(key), body.toBuffer());
  }

  private Answer reverse(String ledger, String key, String ref) {
    return client.call(HttpMethod.POST, "/ledgers/" + ledger + "/reversals", headers(key),
        new JsonObject().put("ref", ref).toBuffer());
  }

  private JsonObject entryOf(String ledger, String ref) {
    Answer answer = client.get("/ledgers/" + ledger + "/entries/" + ref);
    assertThat(answer.status()).as("entry %s on %s", ref, ledger).isEqualTo(200);
    JsonObject entry = answer.json();
    assertThat(entry.remove("ledger")).isEqualTo(ledger);
    assertThat(entry.remove("ref")).isEqualTo(ref);
    return entry;
  }

  private static JsonObject entry(String ref, int amount) {
    return new JsonObject().put("ref", ref).put("amount", amount);
  }

  private static JsonObject counts(int applied, int reversed) {
    return new JsonObject().put("applied", applied).put("reversed", reversed);
  }

  private static MultiMap headers(String key) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
    return key == null ? headers : headers.add("Idempotency-Key", key);
  }
}
