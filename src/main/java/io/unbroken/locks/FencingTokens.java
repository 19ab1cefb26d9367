package io.unbroken.locks;

import io.vertx.core.Future;

/**
 * Fencing tokens per resource that only grow, and the resource's version: the count of writes
 * completed under a token that was the latest when they finished. Every method returns a future
 * and never throws.
 */
public interface FencingTokens {

  /** A token larger than any issued before for {@code resource}. */
  Future<Long> next(String resource);

  /** Counts a completed write, only if {@code token} is still the latest (a fenced-off holder counts nothing). */
  Future<Boolean> completed(String resource, long token);
}
