package io.unbroken.idempotency.pg;

import io.unbroken.events.SideRow;
import io.unbroken.idempotency.Claim;
import io.unbroken.idempotency.ClaimRecord;
import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.ClaimTicket;
import io.unbroken.idempotency.DurableAnswer;
import io.unbroken.idempotency.DurableAnswers;
import io.unbroken.idempotency.StoredAnswer;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.RowStream;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * {@code idempotency_records} (migration V5): the durable answers, and the claims themselves while
 * Redis cannot be reached. A claim is one conditional upsert, so two nodes never both hold a key:
 * the row is taken only when absent, expired, or in flight past its lease. Lease ends and expiries
 * are the database's {@code now()} plus a duration, and are compared with {@code now()} again.
 */
public final class PgIdempotencyRecords implements ClaimStore, DurableAnswers {

  private static final String TABLE = "idempotency_records";
  // Keys fetched from the cursor, and handed to the Bloom filter's rebuild, at a time.
  private static final int SCAN_SLICE = 10_000;
  // A duration in milliseconds, as a parameter, from the database's transaction time.
  private static final String FROM_NOW = "now() + %s * interval '1 millisecond'";

  private final Pool pool;

  public PgIdempotencyRecords(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<Claim> claim(ClaimTicket ticket) {
    return pool.preparedQuery("INSERT INTO " + TABLE + " (scope_key, state, fingerprint, owner, lease_until, expires_at)"
            + " VALUES ($1, 'in_flight', $2, $3, " + FROM_NOW.formatted("$4") + ", " + FROM_NOW.formatted("$5") + ")"
            + " ON CONFLICT (scope_key) DO UPDATE SET state = 'in_flight',"
            + " fingerprint = EXCLUDED.fingerprint, owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until,"
            + " answer = NULL, request_id = NULL, completed_at = NULL, expires_at = EXCLUDED.expires_at"
            + " WHERE " + TABLE + ".expires_at <= now()"
            + " OR (" + TABLE + ".state = 'in_flight' AND " + TABLE + ".lease_until <= now())")
        .execute(Tuple.of(ticket.scopeKey(), ticket.fingerprint(), ticket.owner(), ticket.lease().toMillis(),
            ticket.ttl().toMillis()))
        .compose(claimed -> claimed.rowCount() == 1
            ? Future.succeededFuture(Claim.CLAIMED)
            // Someone holds it; or it vanished since (purged): then claiming again settles it.
            : find(ticket.scopeKey(), ticket.fingerprint())
                .compose(found -> found.isPresent() ? Future.succeededFuture(found.get()) : claim(ticket)));
  }

  @Override
  public Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Duration ttl) {
    return pool.preparedQuery("UPDATE " + TABLE + " SET state = $3, answer = $4, completed_at = now(), expires_at = "
            + FROM_NOW.formatted("$5") + " WHERE scope_key = $1 AND owner = $2 AND state = 'in_flight'")
        .execute(Tuple.of(scopeKey, owner, state(answer), answer.toJson(), ttl.toMillis()))
        .map(updated -> updated.rowCount() == 1);
  }

  @Override
  public Future<Void> release(String scopeKey, String owner) {
    return pool.preparedQuery("DELETE FROM " + TABLE + " WHERE scope_key = $1 AND owner = $2 AND state = 'in_flight'")
        .execute(Tuple.of(scopeKey, owner))
        .mapEmpty();
  }

  @Override
  public Future<Boolean> forgetUnknown(String scopeKey) {
    return pool.preparedQuery("DELETE FROM " + TABLE + " WHERE scope_key = $1 AND state = 'unknown'")
        .execute(Tuple.of(scopeKey))
        .map(deleted -> deleted.rowCount() == 1);
  }

  @Override
  public Future<Void> renew(Collection<HeldClaim> claims, Duration lease) {
    if (claims.isEmpty()) {
      return Future.succeededFuture();
    }
    String[] keys = claims.stream().map(HeldClaim::scopeKey).toArray(String[]::new);
    String[] owners = claims.stream().map(HeldClaim::owner).toArray(String[]::new);
    return pool.preparedQuery("UPDATE " + TABLE + " r SET lease_until = " + FROM_NOW.formatted("$3")
            + " FROM unnest($1::text[], $2::text[]) AS c(k, o)"
            + " WHERE r.scope_key = c.k AND r.owner = c.o AND r.state = 'in_flight'")
        .execute(Tuple.tuple().addValue(keys).addValue(owners).addValue(lease.toMillis()))
        .mapEmpty();
  }

  @Override
  public Optional<SideRow> sideRow(DurableAnswer answer) {
    return Optional.of(new SideRow(TABLE, Map.of(
        "scope_key", answer.scopeKey(),
        "state", state(answer.answer()),
        "fingerprint", answer.fingerprint(),
        "answer", answer.answer().toJson(),
        "request_id", answer.requestId(),
        "completed_at", SideRow.StoreTime.NOW,
        "expires_at", new SideRow.StoreTime(answer.ttl())), List.of("scope_key")));
  }

  /** One statement, so one round trip and, outside a transaction, one commit, whatever the number of answers. */
  @Override
  public Future<Void> saveAll(List<DurableAnswer> answers) {
    if (answers.isEmpty()) {
      return Future.succeededFuture();
    }
    // One statement may not change a row twice: of answers to one key, the last one stands.
    Map<String, DurableAnswer> lastOfEachKey = new LinkedHashMap<>();
    answers.forEach(answer -> lastOfEachKey.put(answer.scopeKey(), answer));
    int size = lastOfEachKey.size();
    String[] keys = new String[size];
    String[] states = new String[size];
    String[] fingerprints = new String[size];
    String[] stored = new String[size];
    String[] requestIds = new String[size];
    Long[] ttls = new Long[size];
    int i = 0;
    for (DurableAnswer answer : lastOfEachKey.values()) {
      keys[i] = answer.scopeKey();
      states[i] = state(answer.answer());
      fingerprints[i] = answer.fingerprint();
      stored[i] = answer.answer().toJson().encode();
      requestIds[i] = answer.requestId();
      ttls[i] = answer.ttl().toMillis();
      i++;
    }
    return pool.preparedQuery("INSERT INTO " + TABLE
            + " (scope_key, state, fingerprint, answer, request_id, completed_at, expires_at)"
            + " SELECT k, s, f, a::jsonb, r, now(), " + FROM_NOW.formatted("t")
            + " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[]) AS n(k, s, f, a, r, t)"
            + " ON CONFLICT (scope_key) DO UPDATE SET state = EXCLUDED.state,"
            + " fingerprint = EXCLUDED.fingerprint, answer = EXCLUDED.answer, request_id = EXCLUDED.request_id,"
            + " completed_at = EXCLUDED.completed_at, expires_at = EXCLUDED.expires_at")
        .execute(Tuple.tuple().addValue(keys).addValue(states).addValue(fingerprints).addValue(stored)
            .addValue(requestIds).addValue(ttls))
        .mapEmpty();
  }

  @Override
  public Future<Optional<Claim>> find(String scopeKey, String fingerprint) {
    return pool.preparedQuery("SELECT fingerprint, owner, lease_until, answer, expires_at, now() AS now FROM " + TABLE
            + " WHERE scope_key = $1")
        .execute(Tuple.of(scopeKey))
        .map(rows -> record(rows).flatMap(found -> found.record().classify(fingerprint, found.storeNow())));
  }

  @Override
  public Future<Integer> purgeExpired() {
    return pool.preparedQuery("DELETE FROM " + TABLE + " WHERE expires_at <= now()")
        .execute()
        .map(RowSet::rowCount);
  }

  /**
   * One query, read through a cursor a slice at a time: a single sequential pass, however many
   * rows there are, and never more than a slice in memory.
   */
  @Override
  public Future<Void> forEachLiveKey(Consumer<List<String>> keys) {
    return pool.withTransaction(connection -> connection
        .prepare("SELECT scope_key FROM " + TABLE + " WHERE expires_at > now() AND (state <> 'in_flight' OR lease_until > now())")
        .compose(statement -> {
          Promise<Void> done = Promise.promise();
          List<String> slice = new ArrayList<>(SCAN_SLICE);
          RowStream<Row> rows = statement.createStream(SCAN_SLICE, Tuple.tuple());
          rows.exceptionHandler(done::tryFail);
          rows.endHandler(end -> {
            keys.accept(List.copyOf(slice));
            done.tryComplete();
          });
          rows.handler(row -> {
            slice.add(row.getString(0));
            if (slice.size() == SCAN_SLICE) {
              keys.accept(List.copyOf(slice));
              slice.clear();
            }
          });
          return done.future();
        }));
  }

  /** A row as read, with the database's time of the read, against which alone its times are judged. */
  private record ReadRecord(ClaimRecord record, Instant storeNow) {}

  private static Optional<ReadRecord> record(RowSet<Row> rows) {
    if (rows.size() == 0) {
      return Optional.empty();
    }
    Row row = rows.iterator().next();
    JsonObject answer = (JsonObject) row.getValue("answer");
    OffsetDateTime lease = row.getOffsetDateTime("lease_until");
    return Optional.of(new ReadRecord(new ClaimRecord(row.getString("fingerprint"), row.getString("owner"),
        lease == null ? Instant.EPOCH : lease.toInstant(), answer == null ? null : StoredAnswer.fromJson(answer),
        row.getOffsetDateTime("expires_at").toInstant()), row.getOffsetDateTime("now").toInstant()));
  }

  private static String state(StoredAnswer answer) {
    return answer.isUnknown() ? "unknown" : "completed";
  }
}
