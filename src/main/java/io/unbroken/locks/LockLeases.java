package io.unbroken.locks;

import io.vertx.core.Future;
import java.time.Duration;

/**
 * Mutual exclusion on a resource for a bounded time: a lease that ends by itself, so a holder that
 * died frees the resource once its lease runs out. Every method returns a future and never throws.
 */
public interface LockLeases {

  /** True when {@code owner} now holds {@code resource} for {@code lease}; false when someone else does. */
  Future<Boolean> tryLease(String resource, String owner, Duration lease);

  /** Ends the lease if {@code owner} holds it. */
  Future<Void> release(String resource, String owner);
}
