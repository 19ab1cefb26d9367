package io.unbroken.idempotency;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * A key's record as the stores that hold it in Java terms keep it (embedded, and PostgreSQL once
 * read): in flight under an owner's lease, or completed with its answer, until it expires. Every
 * instant here is on the clock of the store that holds the record, and is compared only with that
 * clock's "now".
 */
public record ClaimRecord(String fingerprint, String owner, Instant leaseUntil, StoredAnswer answer,
    Instant expiresAt) {

  /** The record of a claim the store grants at {@code storeNow}. */
  public static ClaimRecord inFlight(ClaimTicket ticket, Instant storeNow) {
    return new ClaimRecord(ticket.fingerprint(), ticket.owner(), storeNow.plus(ticket.lease()), null,
        storeNow.plus(ticket.ttl()));
  }

  public boolean completed() {
    return answer != null;
  }

  public boolean heldBy(String claimant) {
    return !completed() && owner.equals(claimant);
  }

  /** True while the record still counts at {@code now}: not expired, and if in flight, its lease running. */
  public boolean liveAt(Instant now) {
    return expiresAt.isAfter(now) && (completed() || leaseUntil.isAfter(now));
  }

  /** What a claim for {@code claimFingerprint} finds here at the store's {@code now}; empty when the key is free. */
  public Optional<Claim> classify(String claimFingerprint, Instant now) {
    if (!liveAt(now)) {
      return Optional.empty();
    }
    if (!fingerprint.equals(claimFingerprint)) {
      return Optional.of(Claim.MISMATCH);
    }
    return Optional.of(completed() ? new Claim.Completed(answer, Duration.between(now, expiresAt))
        : new Claim.InFlight(Duration.between(now, leaseUntil), owner));
  }

  public ClaimRecord complete(StoredAnswer finalAnswer, Instant expiry) {
    return new ClaimRecord(fingerprint, owner, leaseUntil, finalAnswer, expiry);
  }

  public ClaimRecord renew(Instant until) {
    return new ClaimRecord(fingerprint, owner, until, answer, expiresAt);
  }
}
