package io.unbroken.events;

import io.vertx.core.json.JsonObject;

/** An event to append: its type, its data and metadata (request id, node, causation). */
public record NewEvent(String type, JsonObject data, JsonObject metadata) {

  public static NewEvent of(String type, JsonObject data) {
    return new NewEvent(type, data, new JsonObject());
  }
}
