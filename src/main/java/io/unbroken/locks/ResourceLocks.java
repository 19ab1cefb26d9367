package io.unbroken.locks;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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
        .compose(v -> nextToken(resource, owner))
        .map(token -> new Lock(resource, owner, token));
  }

  /** A token for a lease just taken; without one the lease is given back, as nobody could use it. */
  private Future<Long> nextToken(String resource, String owner) {
    return tokens.next(resource)
        .recover(failure -> leases.release(resource, owner).transform(released -> Future.failedFuture(failure)));
  }

  /** Gives the resource back; counts the write when it succeeded. Never fails. */
  public Future<Void> release(Lock lock, boolean writeSucceeded) {
    Future<?> counted = writeSucceeded ? tokens.completed(lock.resource(), lock.fencingToken()) : Future.succeededFuture();
    return counted.transform(done -> leases.release(lock.resource(), lock.owner())).otherwiseEmpty();
  }

  /** Frees a resource held by {@code owner}, a request whose node died with its lock. Never fails. */
  public Future<Void> releaseAbandoned(String resource, String owner) {
    return leases.release(resource, owner).otherwiseEmpty();
  }

  private void attempt(String resource, String owner, Duration lease, long deadlineNanos, long pauseMs,
      Promise<Void> leased) {
    long remainingMs = Math.max(1, (deadlineNanos - System.nanoTime()) / 1_000_000);
    // A store that stops answering must not keep the request waiting past its deadline.
    leases.tryLease(resource, owner, lease).timeout(remainingMs, TimeUnit.MILLISECONDS).onComplete(result -> {
      if (result.failed()) {
        // The store may have taken the lease and lost only its answer (connection reset, timeout):
        // give it back, or the resource stays blocked for the whole lease.
        leases.release(resource, owner);
        leased.fail(result.cause() instanceof TimeoutException ? new LockTimeout(resource) : result.cause());
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
