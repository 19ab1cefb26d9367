package io.unbroken.idempotency;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * An upstream's final answer as it is replayed to retries: status, the headers the route keeps and
 * the body. {@link #UNKNOWN} stands for an attempt whose outcome nobody knows (the upstream went
 * away mid-request) on a route that holds such keys for review. {@code hlc} is the hybrid clock
 * value of the node that stored it, as it stored it (0 before): a node that replays it moves its
 * own clock past it, so the replay's events order after the answer's even across skewed clocks.
 */
public record StoredAnswer(int status, List<Map.Entry<String, String>> headers, Buffer body, long hlc) {

  public static final StoredAnswer UNKNOWN = new StoredAnswer(0, List.of(), Buffer.buffer());

  public StoredAnswer {
    headers = List.copyOf(headers);
  }

  public StoredAnswer(int status, List<Map.Entry<String, String>> headers, Buffer body) {
    this(status, headers, body, 0);
  }

  /** The same answer, stamped with the storing node's hybrid clock value. */
  public StoredAnswer stampedAt(long storedHlc) {
    return new StoredAnswer(status, headers, body, storedHlc);
  }

  public boolean isUnknown() {
    return status == 0;
  }

  public JsonObject toJson() {
    JsonArray pairs = new JsonArray();
    headers.forEach(header -> pairs.add(new JsonArray().add(header.getKey()).add(header.getValue())));
    return new JsonObject().put("status", status).put("headers", pairs)
        .put("body", Base64.getEncoder().encodeToString(body.getBytes())).put("hlc", hlc);
  }

  public static StoredAnswer fromJson(JsonObject json) {
    List<Map.Entry<String, String>> headers = json.getJsonArray("headers").stream()
        .map(pair -> (JsonArray) pair)
        .map(pair -> Map.entry(pair.getString(0), pair.getString(1)))
        .toList();
    return new StoredAnswer(json.getInteger("status"), headers,
        Buffer.buffer(Base64.getDecoder().decode(json.getString("body"))), json.getLong("hlc", 0L));
  }
}
