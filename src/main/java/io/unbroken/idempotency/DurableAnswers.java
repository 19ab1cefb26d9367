package io.unbroken.idempotency;

import io.unbroken.events.SideRow;
import io.vertx.core.Future;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The durable record of completed answers, which outlives Redis. Where it shares the event store's
 * database, an answer commits in the transaction of its {@code RequestCompleted} event
 * ({@link #sideRow}); otherwise it is {@link #saveAll saved} with others behind the requests. What is live or expired is
 * judged by the store's own clock.
 */
public interface DurableAnswers {

  /** The row that writes {@code answer} with the completion event, when the event store can carry it. */
  Optional<SideRow> sideRow(DurableAnswer answer);

  default Future<Void> save(DurableAnswer answer) {
    return saveAll(List.of(answer));
  }

  /**
   * Writes the answers together (one statement, one commit where the store has them); of answers to
   * one key, the last one given is kept, as writing them one after another would leave.
   */
  Future<Void> saveAll(List<DurableAnswer> answers);

  /** The key's live record (completed, or claimed while Redis was away), as a claim for {@code fingerprint} sees it. */
  Future<Optional<Claim>> find(String scopeKey, String fingerprint);

  /** Deletes what has expired; the number of records deleted. */
  Future<Integer> purgeExpired();

  /**
   * Hands every live key (completed, or claimed while Redis was away and still leased) to
   * {@code keys}, a slice at a time, to rebuild the Bloom filter at start.
   */
  Future<Void> forEachLiveKey(Consumer<List<String>> keys);
}
