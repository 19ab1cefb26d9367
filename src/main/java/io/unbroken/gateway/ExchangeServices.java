package io.unbroken.gateway;

import io.unbroken.idempotency.Idempotency;
import io.unbroken.idempotency.IdempotencyMetrics;
import io.unbroken.locks.ResourceLocks;
import io.vertx.core.Vertx;

/** What every exchange of one gateway verticle shares. */
record ExchangeServices(Vertx vertx, GatewayMetrics metrics, Deadlines deadlines, RequestJournal journal,
    ResourceLocks locks, Idempotency idempotency, IdempotencyMetrics idempotencyMetrics, UpstreamCalls calls) {}
