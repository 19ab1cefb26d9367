package io.unbroken.gateway;

import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;

/**
 * An HTTP error as RFC 9457 {@code application/problem+json}. Every error Unbroken itself answers
 * is one of these, carrying the request id so a client's report can be found in the logs.
 */
public record Problem(String type, String title, int status, String detail, String requestId,
    Map<String, String> extensions) {

  public static final String CONTENT_TYPE = "application/problem+json";

  public Problem {
    extensions = Map.copyOf(extensions);
  }

  /** A problem whose type is {@code urn:unbroken:problem:<slug>}. */
  public static Problem of(String slug, String title, int status, String detail, String requestId) {
    return new Problem("urn:unbroken:problem:" + slug, title, status, detail, requestId, Map.of());
  }

  /** The same problem with an extension member (RFC 9457 section 3.2). */
  public Problem with(String member, String value) {
    Map<String, String> more = new HashMap<>(extensions);
    more.put(member, value);
    return new Problem(type, title, status, detail, requestId, more);
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("type", type).put("title", title).put("status", status).put("detail", detail);
    extensions.forEach(json::put);
    return requestId == null ? json : json.put("requestId", requestId);
  }

  /** Writes this problem as the whole response. */
  public Future<Void> send(HttpServerResponse response) {
    return response.setStatusCode(status)
        .putHeader("Content-Type", CONTENT_TYPE)
        .putHeader("Cache-Control", "no-store")
        .end(toJson().toBuffer());
  }
}
