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
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Claims and answers held in this process, for the embedded default: one map plays Redis and
 * PostgreSQL, and its clock plays theirs.
 */
public final class EmbeddedIdempotencyRecords implements ClaimStore, DurableAnswers {

  private final InstantSource clock;
  private final Map<String, ClaimRecord> records = new HashMap<>();

  public EmbeddedIdempotencyRecords(InstantSource clock) {
    this.clock = clock;
  }

  @Override
  public synchronized Future<Claim> claim(ClaimTicket ticket) {
    Instant now = clock.instant();
    Optional<Claim> found = find(ticket.scopeKey(), ticket.fingerprint(), now);
    if (found.isPresent()) {
      return Future.succeededFuture(found.get());
    }
    records.put(ticket.scopeKey(), ClaimRecord.inFlight(ticket, now));
    return Future.succeededFuture(Claim.CLAIMED);
  }

  @Override
  public synchronized Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Duration ttl) {
    ClaimRecord record = records.get(scopeKey);
    if (record == null || !record.heldBy(owner)) {
      return Future.succeededFuture(false);
    }
    records.put(scopeKey, record.complete(answer, clock.instant().plus(ttl)));
    return Future.succeededFuture(true);
  }

  @Override
  public synchronized Future<Void> release(String scopeKey, String owner) {
    records.computeIfPresent(scopeKey, (key, record) -> record.heldBy(owner) ? null : record);
    return Future.succeededFuture();
  }

  @Override
  public synchronized Future<Boolean> forgetUnknown(String scopeKey) {
    ClaimRecord record = records.get(scopeKey);
    boolean kept = record != null && record.completed() && record.answer().isUnknown();
    if (kept) {
      records.remove(scopeKey);
    }
    return Future.succeededFuture(kept);
  }

  @Override
  public synchronized Future<Void> renew(Collection<HeldClaim> claims, Duration lease) {
    Instant leaseUntil = clock.instant().plus(lease);
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
  public synchronized Future<Void> saveAll(List<DurableAnswer> answers) {
    Instant now = clock.instant();
    for (DurableAnswer answer : answers) {
      records.put(answer.scopeKey(), new ClaimRecord(answer.fingerprint(), "", now, answer.answer(), now.plus(answer.ttl())));
    }
    return Future.succeededFuture();
  }

  @Override
  public synchronized Future<Optional<Claim>> find(String scopeKey, String fingerprint) {
    return Future.succeededFuture(find(scopeKey, fingerprint, clock.instant()));
  }

  private Optional<Claim> find(String scopeKey, String fingerprint, Instant now) {
    ClaimRecord record = records.get(scopeKey);
    return record == null ? Optional.empty() : record.classify(fingerprint, now);
  }

  @Override
  public synchronized Future<Integer> purgeExpired() {
    Instant now = clock.instant();
    int before = records.size();
    records.values().removeIf(record -> !record.expiresAt().isAfter(now));
    return Future.succeededFuture(before - records.size());
  }

  @Override
  public synchronized Future<Void> forEachLiveKey(Consumer<List<String>> keys) {
    Instant now = clock.instant();
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
