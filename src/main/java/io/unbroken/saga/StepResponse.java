package io.unbroken.saga;

import io.vertx.core.json.JsonObject;

/**
 * What a step's call got: its status, headers (lower-case names, first value) and body (parsed
 * JSON when it was JSON, else the text), as recorded in the saga's events.
 */
public record StepResponse(int status, JsonObject headers, Object body) {

  public JsonObject toJson() {
    return new JsonObject().put("status", status).put("headers", headers).put("body", body);
  }

  public static StepResponse fromJson(JsonObject json) {
    return new StepResponse(json.getInteger("status"), json.getJsonObject("headers", new JsonObject()),
        json.getValue("body"));
  }
}
