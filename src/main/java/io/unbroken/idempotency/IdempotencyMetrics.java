package io.unbroken.idempotency;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;

/**
 * Counters of the idempotency capability: claims by what they found, answers given from stored
 * records, the key filter's negatives and false positives, lookups in PostgreSQL that found what
 * Redis lacked, and claims made in PostgreSQL while Redis was away.
 */
public final class IdempotencyMetrics {

  private final Map<Class<?>, Counter> claims;
  private final Counter replays;
  private final Counter conflicts;
  private final Counter mismatches;
  private final Counter filterNegatives;
  private final Counter filterFalsePositives;
  private final Counter durableHits;
  private final Counter fallbacks;
  private final Counter unknownOutcomes;
  private final Counter leasesLost;

  public IdempotencyMetrics(MeterRegistry registry) {
    claims = Map.of(
        Claim.Claimed.class, claims(registry, "claimed"),
        Claim.InFlight.class, claims(registry, "in_flight"),
        Claim.Completed.class, claims(registry, "completed"),
        Claim.Mismatch.class, claims(registry, "mismatch"));
    replays = counter(registry, "unbroken.idempotency.replays", "Answers replayed from a stored record");
    conflicts = counter(registry, "unbroken.idempotency.conflicts", "Duplicates answered 409 while the first was in flight");
    mismatches = counter(registry, "unbroken.idempotency.mismatches", "Keys reused with another payload (422)");
    filterNegatives = counter(registry, "unbroken.idempotency.filter.negatives",
        "Claims the Bloom filter sent straight to Redis (key never seen)");
    filterFalsePositives = counter(registry, "unbroken.idempotency.filter.false.positives",
        "Keys the Bloom filter may have seen that PostgreSQL did not have");
    durableHits = counter(registry, "unbroken.idempotency.durable.hits",
        "Keys Redis lacked and PostgreSQL had (replayed or held from there)");
    fallbacks = counter(registry, "unbroken.idempotency.fallbacks", "Claims made in PostgreSQL while Redis was unreachable");
    unknownOutcomes = counter(registry, "unbroken.idempotency.unknown.outcomes",
        "Attempts whose upstream went away without an answer");
    leasesLost = counter(registry, "unbroken.idempotency.leases.lost",
        "Answers that came after their claim's lease had ended (another attempt may have run)");
  }

  private static Counter claims(MeterRegistry registry, String outcome) {
    return Counter.builder("unbroken.idempotency.claims").tag("outcome", outcome)
        .description("Idempotency-Key claims by what they found").register(registry);
  }

  private static Counter counter(MeterRegistry registry, String name, String description) {
    return Counter.builder(name).description(description).register(registry);
  }

  /** Counts what a request's claim found, once per request. */
  public void claimed(Claim claim) {
    claims.get(claim.getClass()).increment();
  }

  public void replayed() {
    replays.increment();
  }

  public void conflict() {
    conflicts.increment();
  }

  public void mismatch() {
    mismatches.increment();
  }

  public void unknownOutcome() {
    unknownOutcomes.increment();
  }

  void leaseLost() {
    leasesLost.increment();
  }

  void filterNegative() {
    filterNegatives.increment();
  }

  void filterFalsePositive() {
    filterFalsePositives.increment();
  }

  void durableHit() {
    durableHits.increment();
  }

  void fallback() {
    fallbacks.increment();
  }
}
