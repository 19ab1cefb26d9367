package io.unbroken.embedded;

import io.unbroken.gateway.Problem;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The books of one ledger: for every ref, how often its action was applied and reversed, and the
 * answer given under every Idempotency-Key, so that a retry with the same key gets the same answer
 * and changes nothing.
 *
 * <p>Honest on purpose: an action sent again under another key is applied again. That double
 * application is what a caller without idempotency discipline causes, and the ledger must show it
 * ({@code applied} 2) rather than hide it. A reversal of a ref whose action never arrived leaves a
 * tombstone, so the late action is refused instead of applied after its undo.
 *
 * <p>Every method is synchronized: one ledger may be served from several event loops, and each
 * call is a short step in memory.
 */
final class Ledger {

  static final String PROBLEMS = "urn:unbroken:problem:";

  /** An answer as it is sent, and as it is replayed to a retry with the same key. */
  record Answer(int status, String contentType, Buffer body) {

    static Answer json(int status, JsonObject body) {
      return new Answer(status, "application/json", body.toBuffer());
    }

    static Answer problem(String slug, String title, int status, String detail, Map<String, String> members) {
      return new Answer(status, Problem.CONTENT_TYPE,
          new Problem(PROBLEMS + slug, title, status, detail, null, members).toJson().toBuffer());
    }
  }

  private static final class Entry {
    int applied;
    int reversed;
    boolean tombstone;
    boolean refused;

    JsonObject toJson() {
      JsonObject json = new JsonObject().put("applied", applied).put("reversed", reversed);
      if (tombstone) {
        json.put("tombstone", true);
      }
      if (refused) {
        json.put("refused", true);
      }
      return json;
    }
  }

  private final String name;
  private final Map<String, Entry> entries = new LinkedHashMap<>();
  private final Map<String, Answer> actionAnswers = new HashMap<>();
  private final Map<String, Answer> reversalAnswers = new HashMap<>();
  private long applications;

  Ledger(String name) {
    this.name = name;
  }

  /**
   * An action for {@code ref} under {@code key}: the answer already given to that key, else a 422
   * when {@code refused}, a 409 when the ref was reversed before its action arrived, else the ref
   * applied once more and a 201. Whatever is answered is kept for the key.
   */
  synchronized Answer act(String key, String ref, Number amount, boolean refused) {
    Answer earlier = actionAnswers.get(key);
    if (earlier != null) {
      return earlier;
    }
    Answer answer = applyOrRefuse(ref, amount, refused);
    actionAnswers.put(key, answer);
    return answer;
  }

  private Answer applyOrRefuse(String ref, Number amount, boolean refused) {
    Entry entry = entries.computeIfAbsent(ref, r -> new Entry());
    if (refused) {
      entry.refused = true;
      return Answer.problem("ledger-refused", "Refused by the ledger", 422,
          "ledger " + name + " refuses the entry for ref " + ref, Map.of("ledger", name, "ref", ref));
    }
    if (entry.tombstone) {
      return Answer.problem("ledger-reversed-before-applied", "Reversed before it arrived", 409,
          "ledger " + name + " reversed ref " + ref + " before its entry arrived; the late entry is refused",
          Map.of("ledger", name, "ref", ref));
    }
    entry.applied++;
    applications++;
    return Answer.json(201, new JsonObject().put("ledger", name).put("ref", ref)
        .put("entry", name + "-" + applications).put("amount", amount));
  }

  /**
   * A reversal of {@code ref} under {@code key}: the answer already given to that key, else the ref
   * reversed (once: reversing it again changes nothing), or a tombstone when nothing was applied.
   */
  synchronized Answer reverse(String key, String ref) {
    Answer earlier = reversalAnswers.get(key);
    if (earlier != null) {
      return earlier;
    }
    Entry entry = entries.computeIfAbsent(ref, r -> new Entry());
    boolean reversed = entry.applied > 0;
    if (!reversed) {
      entry.tombstone = true;
    } else if (entry.reversed == 0) {
      entry.reversed++;
    }
    Answer answer = Answer.json(200, new JsonObject().put("ref", ref).put("reversed", reversed));
    reversalAnswers.put(key, answer);
    return answer;
  }

  synchronized JsonObject toJson() {
    JsonObject all = new JsonObject();
    entries.forEach((ref, entry) -> all.put(ref, entry.toJson()));
    return new JsonObject().put("ledger", name).put("entries", all);
  }

  synchronized Optional<JsonObject> entry(String ref) {
    return Optional.ofNullable(entries.get(ref))
        .map(entry -> entry.toJson().put("ledger", name).put("ref", ref));
  }
}
