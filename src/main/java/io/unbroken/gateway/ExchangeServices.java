package io.unbroken.gateway;

import io.unbroken.config.RouteConfig;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.idempotency.IdempotencyMetrics;
import io.unbroken.locks.ResourceLocks;
import io.unbroken.zombie.InflightRegistry;
import io.unbroken.zombie.InflightRequest;
import io.unbroken.zombie.StatusMonitors;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import java.time.Instant;

/** What every exchange of one gateway verticle shares. */
record ExchangeServices(Vertx vertx, GatewayMetrics metrics, Deadlines deadlines, RequestJournal journal,
    ResourceLocks locks, Idempotency idempotency, IdempotencyMetrics idempotencyMetrics, UpstreamCalls calls,
    InflightRegistry inflight, String nodeId, StatusMonitors monitors) {

  /** What the in-flight registry (and, on a sync route, its durable row) says of a request started at {@code startedMillis}. */
  InflightRequest describe(HttpServerRequest request, RequestTarget target, RouteConfig route, String requestId,
      long startedMillis,
      long timeoutMillis, String idempotencyScope, String fingerprint) {
    String client = request.remoteAddress() == null ? "" : request.remoteAddress().hostAddress();
    return new InflightRequest(requestId, nodeId, route.prefix(), request.method().name(), target.path(), client,
        idempotencyScope, fingerprint, Instant.ofEpochMilli(startedMillis), timeoutMillis);
  }
}
