package io.unbroken.idempotency;

import java.time.Duration;

/** What a claim on an idempotency key found. */
public sealed interface Claim {

  /** The key was free (absent, expired, or its holder's lease ended): the caller now holds it. */
  record Claimed() implements Claim {}

  /**
   * Another attempt with the same payload holds the key; its lease runs for {@code leaseLeft}, and
   * {@code owner} is that attempt's request id.
   */
  record InFlight(Duration leaseLeft, String owner) implements Claim {}

  /** An attempt with the same payload finished; retries get its answer for {@code ttlLeft} more, by the store's clock. */
  record Completed(StoredAnswer answer, Duration ttlLeft) implements Claim {}

  /** The key is held or completed for another payload. */
  record Mismatch() implements Claim {}

  Claim CLAIMED = new Claimed();
  Claim MISMATCH = new Mismatch();
}
