package io.unbroken.idempotency;

import com.google.common.base.Ticker;
import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import java.time.Duration;
import java.util.Optional;

/**
 * Completed answers this node has replayed lately, in memory. A completed answer changes before it
 * expires only when an operator frees a key kept as an unknown outcome (then every node is told to
 * {@link #forget} it), so a retry of a hot key (a client retrying in a loop, a duplicate storm) is
 * replayed without a trip to Redis; what this node has not seen, or has forgotten, Redis still
 * decides. Bounded in bytes and in how long an entry is kept. An entry never outlives the time to
 * live the store reported for it, counted on this node's monotonic ticker, so no wall clock is read.
 */
final class RecentAnswers {

  private static final Duration KEEP = Duration.ofMinutes(1);
  // Key, fingerprint, headers and object headers of one entry, roughly.
  private static final int ENTRY_OVERHEAD = 512;

  private record Entry(String fingerprint, Claim.Completed completed, long expiresAtNanos) {}

  private final Ticker ticker;
  private final Cache<String, Entry> entries;

  RecentAnswers(long maxBytes, Ticker ticker) {
    this.ticker = ticker;
    this.entries = CacheBuilder.newBuilder()
        .maximumWeight(maxBytes)
        .<String, Entry>weigher((key, entry) -> ENTRY_OVERHEAD + entry.completed().answer().body().length())
        .expireAfterWrite(KEEP)
        .ticker(ticker)
        .build();
  }

  /** What a claim for {@code fingerprint} would find, if this node has the answer; empty otherwise. */
  Optional<Claim> lookup(String scopeKey, String fingerprint) {
    Entry entry = entries.getIfPresent(scopeKey);
    if (entry == null || ticker.read() - entry.expiresAtNanos() >= 0) {
      return Optional.empty();
    }
    return Optional.of(entry.fingerprint().equals(fingerprint) ? entry.completed() : Claim.MISMATCH);
  }

  void forget(String scopeKey) {
    entries.invalidate(scopeKey);
  }

  void remember(String scopeKey, String fingerprint, Claim.Completed completed) {
    entries.put(scopeKey, new Entry(fingerprint, completed, ticker.read() + completed.ttlLeft().toNanos()));
  }
}
