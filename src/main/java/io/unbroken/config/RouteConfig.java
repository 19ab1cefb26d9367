package io.unbroken.config;

import java.net.URI;
import java.time.Duration;
import java.util.Set;

/**
 * One route: requests whose path starts with {@code prefix} (on a segment boundary) and whose
 * method is in {@code methods} (empty means every method) are forwarded to {@code upstream}.
 */
public record RouteConfig(
    String prefix,
    URI upstream,
    Set<String> methods,
    Duration timeout,
    long maxBody,
    EventsMode events,
    IdempotencyPolicy idempotency) {

  /** How a route's request lifecycle is recorded in the event store. */
  public enum EventsMode { SYNC, ASYNC, OFF }

  public boolean allows(String method) {
    return methods.isEmpty() || methods.contains(method);
  }
}
