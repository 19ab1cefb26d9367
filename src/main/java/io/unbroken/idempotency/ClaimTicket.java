package io.unbroken.idempotency;

import java.time.Duration;
import java.time.Instant;

/**
 * One attempt's claim on a key: the scope key (route, principal and key, hashed), the payload's
 * fingerprint, the attempt's owner token, the time on the claiming node's clock, how long the
 * claim lives without a heartbeat and when a completed answer expires.
 */
public record ClaimTicket(String scopeKey, String fingerprint, String owner, Instant now, Duration lease,
    Instant expiresAt) {

  public Instant leaseUntil() {
    return now.plus(lease);
  }

  /** How long a completed answer is kept: the route's time to live. */
  public Duration ttl() {
    return Duration.between(now, expiresAt);
  }
}
