package io.unbroken.config;

import java.time.Duration;

/**
 * How a route treats {@code Idempotency-Key}: whether a key is required, how long a completed
 * answer is kept, what an in-flight duplicate gets, and whose keys share a scope.
 */
public record IdempotencyPolicy(Mode mode, Duration ttl, Inflight inflight, String principal) {

  public enum Mode { REQUIRED, OPTIONAL, OFF }

  /** REJECT answers an in-flight duplicate 409; WAIT holds it until the first attempt finishes. */
  public enum Inflight { REJECT, WAIT }

  public static final IdempotencyPolicy DISABLED =
      new IdempotencyPolicy(Mode.OFF, Duration.ofHours(24), Inflight.REJECT, "header:X-Api-Key");
}
