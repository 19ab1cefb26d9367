package io.unbroken.config;

import io.unbroken.locks.LockTemplate;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

/**
 * One route: requests whose path starts with {@code prefix} (on a segment boundary) and whose
 * method is in {@code methods} (empty means every method) are forwarded to {@code upstream}; with
 * a {@code lock} template, requests on the same resource are forwarded one at a time; with an
 * {@code idleTimeout}, an upstream that sends nothing for that long (once it has the whole request)
 * is taken for hung; with {@code async}, a client may ask for {@code 202 Accepted} and a status
 * monitor instead of waiting; with {@code allowEncodedSlash}, a {@code %2F} in a path is
 * forwarded as it is rather than refused; with {@code tls}, an https upstream is verified and
 * reached as it says.
 */
public record RouteConfig(
    String prefix,
    URI upstream,
    Set<String> methods,
    Duration timeout,
    long maxBody,
    EventsMode events,
    IdempotencyPolicy idempotency,
    Optional<LockTemplate> lock,
    Optional<Duration> idleTimeout,
    Optional<AsyncPolicy> async,
    boolean allowEncodedSlash,
    Optional<UpstreamTls> tls) {

  /** A route to its upstream over plain HTTP, or TLS as the JVM trusts it. */
  public RouteConfig(String prefix, URI upstream, Set<String> methods, Duration timeout, long maxBody,
      EventsMode events, IdempotencyPolicy idempotency, Optional<LockTemplate> lock, Optional<Duration> idleTimeout,
      Optional<AsyncPolicy> async, boolean allowEncodedSlash) {
    this(prefix, upstream, methods, timeout, maxBody, events, idempotency, lock, idleTimeout, async, allowEncodedSlash,
        Optional.empty());
  }

  /** A route that refuses {@code %2F} in paths. */
  public RouteConfig(String prefix, URI upstream, Set<String> methods, Duration timeout, long maxBody,
      EventsMode events, IdempotencyPolicy idempotency, Optional<LockTemplate> lock, Optional<Duration> idleTimeout,
      Optional<AsyncPolicy> async) {
    this(prefix, upstream, methods, timeout, maxBody, events, idempotency, lock, idleTimeout, async, false);
  }

  /** A route that locks no resource. */
  public RouteConfig(String prefix, URI upstream, Set<String> methods, Duration timeout, long maxBody,
      EventsMode events, IdempotencyPolicy idempotency) {
    this(prefix, upstream, methods, timeout, maxBody, events, idempotency, Optional.empty());
  }

  /** A route that waits on a silent upstream until its timeout. */
  public RouteConfig(String prefix, URI upstream, Set<String> methods, Duration timeout, long maxBody,
      EventsMode events, IdempotencyPolicy idempotency, Optional<LockTemplate> lock) {
    this(prefix, upstream, methods, timeout, maxBody, events, idempotency, lock, Optional.empty());
  }

  /** A route whose clients always wait for the answer. */
  public RouteConfig(String prefix, URI upstream, Set<String> methods, Duration timeout, long maxBody,
      EventsMode events, IdempotencyPolicy idempotency, Optional<LockTemplate> lock, Optional<Duration> idleTimeout) {
    this(prefix, upstream, methods, timeout, maxBody, events, idempotency, lock, idleTimeout, Optional.empty());
  }

  /** How a route's request lifecycle is recorded in the event store. */
  public enum EventsMode { SYNC, ASYNC, OFF }

  public boolean allows(String method) {
    return methods.isEmpty() || methods.contains(method);
  }
}
