package io.unbroken.idempotency;

import io.vertx.core.Future;
import java.time.Instant;
import java.util.Collection;

/**
 * Where idempotency keys are claimed. Every change is one atomic step checked by owner token, so
 * two attempts never both hold a key and nobody completes or releases a claim that is not theirs.
 * A claim whose lease ended without a renewal (its node died) is free again, and so is a completed
 * key past its expiry. Times come from the caller, so a node's injected clock decides expiry.
 */
public interface ClaimStore {

  /** Claims the ticket's key, or says who has it. */
  Future<Claim> claim(ClaimTicket ticket);

  /**
   * Stores the final answer of the owner's attempt, kept until {@code expiresAt}; false when the
   * owner no longer holds the key.
   */
  Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Instant expiresAt);

  /** Frees the key if {@code owner} holds it, so the next attempt runs again. */
  Future<Void> release(String scopeKey, String owner);

  /** Extends the leases of claims still held by their owners, in one round trip. */
  Future<Void> renew(Collection<HeldClaim> claims, Instant leaseUntil);

  /** A claim held by an attempt of this node. */
  record HeldClaim(String scopeKey, String owner) {}
}
