package io.unbroken.saga.pg;

import io.unbroken.saga.SagaStatus;
import io.unbroken.saga.SagaStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Saga ownership and listing in table {@code sagas} (migration V10), judged by PostgreSQL's clock. */
public final class PgSagaStore implements SagaStore {

  private static final String ACTIVE = "status IN ('running', 'compensating')";
  private static final String LISTED = "saga_id, name, status, step, reason, last_answer, started_at, updated_at, owner";

  private final Pool pool;

  public PgSagaStore(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<Set<String>> renew(String node, Set<String> running, Duration lease) {
    if (running.isEmpty()) {
      return Future.succeededFuture(Set.of());
    }
    // The SELECT reads the rows as they were before the UPDATE: those another node owns now. One
    // that this node is ending is still its own: its run finishes it.
    return pool.preparedQuery("WITH renewed AS (UPDATE sagas SET lease_until = clock_timestamp() + $2 * interval"
            + " '1 millisecond' WHERE saga_id IN (SELECT saga_id FROM sagas WHERE owner = $1 AND saga_id = ANY($3)"
            + "   AND " + ACTIVE + " FOR UPDATE SKIP LOCKED) RETURNING saga_id)"
            + " SELECT saga_id FROM sagas WHERE saga_id = ANY($3) AND owner <> $1")
        .execute(Tuple.of(node, lease.toMillis(), running.toArray(String[]::new)))
        .map(rows -> {
          Set<String> lost = new HashSet<>();
          rows.forEach(row -> lost.add(row.getString(0)));
          return lost;
        });
  }

  @Override
  public Future<List<Owned>> takeOver(String node, Duration lease, int limit) {
    // SKIP LOCKED: nodes looking at once share the orphans instead of queueing on the same rows.
    return pool.preparedQuery("UPDATE sagas s SET owner = $1, fence = s.fence + 1,"
            + " lease_until = clock_timestamp() + $2 * interval '1 millisecond'"
            + " FROM (SELECT saga_id FROM sagas WHERE " + ACTIVE + " AND lease_until <= clock_timestamp()"
            + "   ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED) orphan"
            + " WHERE s.saga_id = orphan.saga_id RETURNING s.saga_id, s.fence")
        .execute(Tuple.of(node, lease.toMillis(), limit))
        .map(rows -> {
          List<Owned> taken = new ArrayList<>();
          rows.forEach(row -> taken.add(new Owned(row.getString(0), row.getLong(1))));
          return taken;
        });
  }

  @Override
  public Future<Void> release(String node) {
    return pool.preparedQuery("UPDATE sagas SET lease_until = clock_timestamp() WHERE saga_id IN"
            + " (SELECT saga_id FROM sagas WHERE owner = $1 AND " + ACTIVE + " FOR UPDATE SKIP LOCKED)")
        .execute(Tuple.of(node)).mapEmpty();
  }

  @Override
  public Future<Boolean> compensationOverdue(String sagaId, Duration deadline) {
    return pool.preparedQuery("SELECT compensating_since + $2 * interval '1 millisecond' <= clock_timestamp()"
            + " FROM sagas WHERE saga_id = $1")
        .execute(Tuple.of(sagaId, deadline.toMillis()))
        .map(rows -> rows.size() == 1 && Boolean.TRUE.equals(rows.iterator().next().getBoolean(0)));
  }

  @Override
  public Future<List<JsonObject>> list(Optional<SagaStatus> status, Optional<String> after, int limit) {
    // Ids are Snowflakes of one length for decades, so text order is their order. Two statements,
    // so the one for a status keeps to the (status, saga_id) index under a generic plan.
    Future<RowSet<Row>> rows = status.isPresent()
        ? pool.preparedQuery("SELECT " + LISTED + " FROM sagas WHERE status = $1 AND saga_id > $2"
            + " ORDER BY saga_id LIMIT $3").execute(Tuple.of(status.get().label(), after.orElse(""), limit))
        : pool.preparedQuery("SELECT " + LISTED + " FROM sagas WHERE saga_id > $1 ORDER BY saga_id LIMIT $2")
            .execute(Tuple.of(after.orElse(""), limit));
    return rows.map(found -> {
      List<JsonObject> listed = new ArrayList<>();
      found.forEach(row -> listed.add(listed(row)));
      return listed;
    });
  }

  @Override
  public Future<Map<SagaStatus, Long>> count() {
    return pool.query("SELECT status, count(*) FROM sagas GROUP BY status").execute()
        .map(rows -> {
          Map<SagaStatus, Long> counts = new EnumMap<>(SagaStatus.class);
          for (SagaStatus status : SagaStatus.values()) {
            counts.put(status, 0L);
          }
          rows.forEach(row -> SagaStatus.parse(row.getString(0)).ifPresent(s -> counts.put(s, row.getLong(1))));
          return counts;
        });
  }

  private static JsonObject listed(Row row) {
    return new JsonObject().put("id", row.getString("saga_id")).put("name", row.getString("name"))
        .put("status", row.getString("status")).put("step", row.getString("step"))
        .put("reason", row.getString("reason")).put("lastAnswer", row.getJsonObject("last_answer"))
        .put("startedAt", row.getOffsetDateTime("started_at").toInstant().toString())
        .put("updatedAt", row.getOffsetDateTime("updated_at").toInstant().toString())
        .put("owner", row.getString("owner"));
  }
}
