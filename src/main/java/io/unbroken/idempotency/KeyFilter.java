package io.unbroken.idempotency;

import com.google.common.hash.BloomFilter;
import com.google.common.hash.Funnels;
import com.google.common.io.CountingOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Bloom filter in front of the claim store: "never seen" means the key has no durable answer
 * (so Redis alone decides); "maybe" means one may exist even if Redis lost it.
 *
 * <p>Three generations of half the expected keys each: keys go into the newest; once it has taken
 * its share, the oldest is dropped and a fresh one starts. So no generation fills past its
 * false-positive rate, the filter never forgets any of the last {@code expectedKeys} keys added
 * (two full generations plus the one filling), and it costs 1.5 times a single filter of
 * {@code expectedKeys}: 1.8 MB for a million keys at 1 %. A query asks all three, so the
 * false-positive rate is at most three times the configured one. Safe for concurrent use
 * (Guava's filter is lock-free; an add racing with a rotation may be lost, which only costs a
 * lookup in PostgreSQL if Redis also loses that key).
 */
public final class KeyFilter {

  private final long generationKeys;
  private final double falsePositiveRate;
  private final AtomicLong added = new AtomicLong();
  private volatile List<BloomFilter<CharSequence>> generations; // newest first

  public KeyFilter(long expectedKeys, double falsePositiveRate) {
    if (expectedKeys < 2 || !(falsePositiveRate > 0 && falsePositiveRate < 1)) {
      throw new IllegalArgumentException("expected keys must be at least 2 and the false-positive rate in (0, 1)");
    }
    this.generationKeys = expectedKeys / 2;
    this.falsePositiveRate = falsePositiveRate;
    this.generations = List.of(fresh(), fresh(), fresh());
  }

  public boolean mightContain(String scopeKey) {
    for (BloomFilter<CharSequence> generation : generations) {
      if (generation.mightContain(scopeKey)) {
        return true;
      }
    }
    return false;
  }

  public void add(String scopeKey) {
    generations.get(0).put(scopeKey);
    if (added.incrementAndGet() % generationKeys == 0) {
      rotate();
    }
  }

  /** Bytes all generations take in their serialized form, which is their bit arrays plus a few header bytes. */
  public long sizeInBytes() {
    CountingOutputStream counter = new CountingOutputStream(OutputStream.nullOutputStream());
    try {
      for (BloomFilter<CharSequence> generation : generations) {
        generation.writeTo(counter);
      }
    } catch (IOException impossible) {
      throw new UncheckedIOException(impossible);
    }
    return counter.getCount();
  }

  private synchronized void rotate() {
    generations = List.of(fresh(), generations.get(0), generations.get(1));
  }

  private BloomFilter<CharSequence> fresh() {
    return BloomFilter.create(Funnels.stringFunnel(StandardCharsets.UTF_8), generationKeys, falsePositiveRate);
  }
}
