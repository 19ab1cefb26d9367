package io.unbroken.config;

import java.time.Duration;
import java.util.List;

/**
 * How a route treats {@code Idempotency-Key}: whether a key is required, how long a completed
 * answer is kept, what an in-flight duplicate gets, whose keys share a scope, which request
 * headers count in the payload's fingerprint, which answer headers are replayed besides
 * {@code Location}, {@code ETag} and {@code Content-Type}, which upstream statuses are not final
 * (they free the key for a retry), how long an upstream call may outlive its client, what a retry
 * of an attempt with an unknown outcome gets, and the largest answer body kept for replays.
 */
public record IdempotencyPolicy(Mode mode, Duration ttl, Inflight inflight, String principal,
    List<String> fingerprintHeaders, List<String> replayHeaders, StatusSet releaseOn, Duration upstreamGrace,
    Unknown unknown, long maxAnswer) {

  public enum Mode { REQUIRED, OPTIONAL, OFF }

  /** REJECT answers an in-flight duplicate 409; WAIT holds it until the first attempt finishes. */
  public enum Inflight { REJECT, WAIT }

  /** RETRY forwards a retry again (with the same key); HOLD answers it 503 and keeps the key for review. */
  public enum Unknown { RETRY, HOLD }

  public static final List<String> ALWAYS_REPLAYED = List.of("Content-Type", "Location", "ETag");

  public static final IdempotencyPolicy DISABLED = new IdempotencyPolicy(Mode.OFF, Duration.ofHours(24),
      Inflight.REJECT, "header:X-Api-Key");

  public IdempotencyPolicy {
    fingerprintHeaders = List.copyOf(fingerprintHeaders);
    replayHeaders = List.copyOf(replayHeaders);
  }

  public IdempotencyPolicy(Mode mode, Duration ttl, Inflight inflight, String principal) {
    this(mode, ttl, inflight, principal, List.of(), List.of(), StatusSet.DEFAULT_RELEASED, Duration.ofSeconds(30),
        Unknown.RETRY, 1 << 20);
  }

  public boolean enabled() {
    return mode != Mode.OFF;
  }

  public IdempotencyPolicy withInflight(Inflight newInflight) {
    return new IdempotencyPolicy(mode, ttl, newInflight, principal, fingerprintHeaders, replayHeaders, releaseOn,
        upstreamGrace, unknown, maxAnswer);
  }
}
