package io.unbroken.idempotency;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.Collection;

/**
 * Where idempotency keys are claimed. Every change is one atomic step checked by owner token, so
 * two attempts never both hold a key and nobody completes or releases a claim that is not theirs.
 * A claim whose lease ended without a renewal (its node died) is free again, and so is a completed
 * key past its expiry. Callers give durations only: every lease end and expiry is set and judged
 * by the store's own clock, so nodes whose clocks disagree still agree on who holds a key.
 */
public interface ClaimStore {

  /** Claims the ticket's key, or says who has it. */
  Future<Claim> claim(ClaimTicket ticket);

  /**
   * Stores the final answer of the owner's attempt, kept for {@code ttl} from now; false when the
   * owner no longer holds the key.
   */
  Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Duration ttl);

  /** Frees the key if {@code owner} holds it, so the next attempt runs again. */
  Future<Void> release(String scopeKey, String owner);

  /**
   * Frees a key kept as an unknown outcome ({@code unknown: hold}), once an operator found out what
   * became of it; false when the key is not kept that way (in flight, answered, expired or free).
   */
  Future<Boolean> forgetUnknown(String scopeKey);

  /** Extends to {@code lease} from now the leases of claims still held by their owners, in one round trip. */
  Future<Void> renew(Collection<HeldClaim> claims, Duration lease);

  /** A claim held by an attempt of this node. */
  record HeldClaim(String scopeKey, String owner) {}
}
