package io.unbroken.embedded;

import io.unbroken.events.SideRow;
import io.unbroken.idempotency.Claim;
import io.unbroken.idempotency.ClaimRecord;
import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.ClaimTicket;
import io.unbroken.idempotency.DurableAnswer;
import io.unbroken.idempotency.DurableAnswers;
import io.unbroken.idempotency.StoredAnswer;
import io.vertx.core.Future;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/** Claims and answers held in this process, for the embedded default: one map plays Redis and PostgreSQL. */
public final class EmbeddedIdempotencyRecords implements ClaimStore, DurableAnswers {

  private final Map<String, ClaimRecord> records = new HashMap<>();

  @Override
  public synchronized Future<Claim> claim(ClaimTicket ticket) {
    Optional<Claim> found = find(ticket.scopeKey(), ticket.fingerprint(), ticket.now()).result();
    if (found.isPresent()) {
      return Future.succeededFuture(found.get());
    }
    records.put(ticket.scopeKey(), ClaimRecord.inFlight(ticket));
    return Future.succeededFuture(Claim.CLAIMED);
  }

  @Override
  public synchronized Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Instant expiresAt) {
    ClaimRecord record = records.get(scopeKey);
    if (record == null || !record.heldBy(owner)) {
      return Future.succeededFuture(false);
    }
    records.put(scopeKey, record.complete(answer, expiresAt));
    return Future.succeededFuture(true);
  }

  @Override
  public synchronized Future<Void> release(String scopeKey, String owner) {
    records.computeIfPresent(scopeKey, (key, record) -> record.heldBy(owner) ? null : record);
    return Future.succeededFuture();
  }

  @Override
  public synchronized Future<Void> renew(Collection<HeldClaim> claims, Instant leaseUntil) {
    for (HeldClaim claim : claims) {
      records.computeIfPresent(claim.scopeKey(),
          (key, record) -> record.heldBy(claim.owner()) ? record.renew(leaseUntil) : record);
    }
    return Future.succeededFuture();
  }

  @Override
  public Optional<SideRow> sideRow(DurableAnswer answer) {
    return Optional.empty();
  }

  @Override
  public synchronized Future<Void> save(DurableAnswer answer) {
    records.put(answer.scopeKey(),
        new ClaimRecord(answer.fingerprint(), "", answer.completedAt(), answer.answer(), answer.expiresAt()));
    return Future.succeededFuture();
  }

  @Override
  public synchronized Future<Optional<Claim>> find(String scopeKey, String fingerprint, Instant now) {
    ClaimRecord record = records.get(scopeKey);
    return Future.succeededFuture(record == null ? Optional.empty() : record.classify(fingerprint, now));
  }

  @Override
  public synchronized Future<Integer> purgeExpired(Instant now) {
    int before = records.size();
    records.values().removeIf(record -> !record.expiresAt().isAfter(now));
    return Future.succeededFuture(before - records.size());
  }

  @Override
  public synchronized Future<Void> forEachLiveKey(Instant now, Consumer<List<String>> keys) {
    List<String> live = new ArrayList<>();
    records.forEach((key, record) -> {
      if (record.liveAt(now)) {
        live.add(key);
      }
    });
    keys.accept(live);
    return Future.succeededFuture();
  }
}
