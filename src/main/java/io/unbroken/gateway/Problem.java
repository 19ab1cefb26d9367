package io.unbroken.gateway;

import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;

/**
 * An HTTP error as RFC 9457 {@code application/problem+json}. Every error Unbroken itself answers
 * is one of these, carrying the request id so a client's report can be found in the logs.
 */
public record Problem(String type, String title, int status, String detail, String requestId) {

  public static final String CONTENT_TYPE = "application/problem+json";

  /** A problem whose type is {@code urn:unbroken:problem:<slug>}. */
  public static Problem of(String slug, String title, int status, String detail, String requestId) {
    return new Problem("urn:unbroken:problem:" + slug, title, status, detail, requestId);
  }

  public JsonObject toJson() {
    JsonObject json = new JsonObject().put("type", type).put("title", title).put("status", status).put("detail", detail);
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
