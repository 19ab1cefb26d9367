package io.unbroken.zombie;

import io.vertx.core.json.JsonObject;

/** Reads what {@code GET /admin/inflight} answered. */
final class InflightListing {

  private InflightListing() {}

  /** The in-flight request with this path on any node, or null. */
  static JsonObject requestAt(JsonObject listed, String path) {
    for (Object node : listed.getJsonArray("nodes")) {
      for (Object request : ((JsonObject) node).getJsonArray("requests")) {
        if (((JsonObject) request).getString("path").equals(path)) {
          return (JsonObject) request;
        }
      }
    }
    return null;
  }
}
