package io.unbroken.zombie;

import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.SideRow;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What is known of a request while it runs: which node runs it, on which route, for whom, since
 * when and for how long at most. {@code idempotencyScope} and {@code fingerprint} are empty for a
 * request without an {@code Idempotency-Key}. The durable copy of a {@code events: sync} request
 * is a {@link #row} of {@code inflight_requests}, written and removed with its events (PostgreSQL
 * keeps it as a mark on the request stream's own row).
 */
public record InflightRequest(String requestId, String node, String route, String method, String path, String client,
    String idempotencyScope, String fingerprint, Instant started, long timeoutMillis) {

  public static final String TABLE = RequestLifecycle.INFLIGHT_TABLE;
  /** The phase of every durable row: it is written with the events that say the request was forwarded. */
  static final String FORWARDED = "forwarded";

  /** The durable row, its start set by the database's clock as it commits. */
  public SideRow row() {
    return new SideRow(TABLE, Map.ofEntries(Map.entry("request_id", requestId), Map.entry("node", node),
        Map.entry("route", route), Map.entry("method", method), Map.entry("path", path), Map.entry("client", client),
        Map.entry("idempotency_scope", idempotencyScope), Map.entry("fingerprint", fingerprint),
        Map.entry("started", SideRow.StoreTime.NOW), Map.entry("timeout_ms", timeoutMillis),
        Map.entry("phase", FORWARDED)), List.of("request_id"));
  }

  /** Removes the durable row of {@code requestId}: written with its terminal event. */
  public static SideRow rowRemoval(String requestId) {
    return SideRow.removal(TABLE, Map.of("request_id", requestId));
  }

  public boolean hasIdempotencyKey() {
    return !idempotencyScope.isEmpty();
  }

  JsonObject toJson(String phase) {
    return new JsonObject().put("requestId", requestId).put("node", node).put("route", route).put("method", method)
        .put("path", path).put("client", client).put("started", started.toString())
        .put("deadline", started.plusMillis(timeoutMillis).toString()).put("phase", phase)
        .put("idempotent", hasIdempotencyKey());
  }
}
