package io.unbroken.locks;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;

/**
 * Serializes requests on one resource, across nodes: a lease (so a dead holder frees it) plus a
 * fencing token (so an upstream can refuse a holder whose lease ran out). Requests on different
 * resources never wait for each other. Waiting polls with a growing pause, bounded by the
 * caller's deadline.
 */
public final class ResourceLocks {

  private static final long FIRST_PAUSE_MS = 2;
  private static final long LONGEST_PAUSE_MS = 50;

  private final Vertx vertx;
  private final LockLeases leases;
  private final FencingTokens tokens;

  public ResourceLocks(Vertx vertx, LockLeases leases, FencingTokens tokens) {
    this.vertx = vertx;
    this.leases = leases;
    this.tokens = tokens;
  }

  /** Waits for the resource until {@code deadlineNanos} ({@link System#nanoTime()}); fails with {@link LockTimeout}. */
  public Future<Lock> acquire(String resource, String owner, Duration lease, long deadlineNanos) {
    Promise<Void> leased = Promise.promise();
    attempt(resource, owner, lease, deadlineNanos, FIRST_PAUSE_MS, leased);
    return leased.future()
        .compose(v -> tokens.next(resource)
            .recover(failure -> leases.release(resource, owner).transform(released -> Future.failedFuture(failure))))
        .map(token -> new Lock(resource, owner, token));
  }

  /** Gives the resource back; counts the write when it succeeded. Never fails. */
  public Future<Void> release(Lock lock, boolean writeSucceeded) {
    Future<?> counted = writeSucceeded ? tokens.completed(lock.resource(), lock.fencingToken()) : Future.succeededFuture();
    return counted.transform(done -> leases.release(lock.resource(), lock.owner())).otherwiseEmpty();
  }

  private void attempt(String resource, String owner, Duration lease, long deadlineNanos, long pauseMs,
      Promise<Void> leased) {
    leases.tryLease(resource, owner, lease).onComplete(result -> {
      if (result.failed()) {
        leased.fail(result.cause());
      } else if (result.result()) {
        leased.complete();
      } else if (System.nanoTime() + pauseMs * 1_000_000 - deadlineNanos > 0) {
        leased.fail(new LockTimeout(resource));
      } else {
        vertx.setTimer(pauseMs, t -> attempt(resource, owner, lease, deadlineNanos,
            Math.min(LONGEST_PAUSE_MS, pauseMs * 2), leased));
      }
    });
  }
}
