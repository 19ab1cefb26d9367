package io.unbroken.idempotency;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Completed answers this node has replayed lately, in memory. A completed answer never changes
 * before it expires, so a retry of a hot key (a client retrying in a loop, a duplicate storm) is
 * replayed without a trip to Redis; what this node has not seen, or has forgotten, Redis still
 * decides. Bounded in bytes and in how long an entry is kept.
 */
final class RecentAnswers {

  private static final Duration KEEP = Duration.ofMinutes(1);
  // Key, fingerprint, headers and object headers of one entry, roughly.
  private static final int ENTRY_OVERHEAD = 512;

  private record Entry(String fingerprint, Claim.Completed completed) {}

  private final Cache<String, Entry> entries;

  RecentAnswers(long maxBytes) {
    this.entries = CacheBuilder.newBuilder()
        .maximumWeight(maxBytes)
        .<String, Entry>weigher((key, entry) -> ENTRY_OVERHEAD + entry.completed().answer().body().length())
        .expireAfterWrite(KEEP)
        .build();
  }

  /** What a claim for {@code fingerprint} would find, if this node has the answer; empty otherwise. */
  Optional<Claim> lookup(String scopeKey, String fingerprint, Instant now) {
    Entry entry = entries.getIfPresent(scopeKey);
    if (entry == null || !entry.completed().expiresAt().isAfter(now)) {
      return Optional.empty();
    }
    return Optional.of(entry.fingerprint().equals(fingerprint) ? entry.completed() : Claim.MISMATCH);
  }

  void remember(String scopeKey, String fingerprint, Claim.Completed completed) {
    entries.put(scopeKey, new Entry(fingerprint, completed));
  }
}
