package io.unbroken.zombie.pg;

import io.unbroken.zombie.InflightRequest;
import io.unbroken.zombie.OrphanedRequests;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * In-flight requests whose node holds no live lease in {@code worker_leases}, both judged by the
 * database's clock. A request's durable in-flight row is the mark on its stream's row (migration
 * V11), set with its opening events and cleared with its terminal event; only marked rows are in
 * the partial index read here, so a pass reads no finished request however many the store has.
 */
public final class PgOrphanedRequests implements OrphanedRequests {

  private final Pool pool;

  public PgOrphanedRequests(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<Boolean> leaseReaper(String node, Duration lease) {
    return pool.preparedQuery("INSERT INTO reaper_lease (singleton, holder, lease_until)"
            + " VALUES (true, $1, clock_timestamp() + $2 * interval '1 millisecond')"
            + " ON CONFLICT (singleton) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until"
            + " WHERE reaper_lease.holder = EXCLUDED.holder OR reaper_lease.lease_until <= clock_timestamp()")
        .execute(Tuple.of(node, lease.toMillis()))
        .map(written -> written.rowCount() == 1);
  }

  @Override
  public Future<Found> ofDeadNodes(int limit) {
    return pool.preparedQuery("SELECT i.request_id, i.node, i.route, i.method, i.path, i.client, i.idempotency_scope,"
            + " i.fingerprint, i.started, i.timeout_ms, clock_timestamp() AS store_time"
            + " FROM streams s, jsonb_to_record(s.inflight) AS i(request_id text, node text, route text, method text,"
            + "   path text, client text, idempotency_scope text, fingerprint text, started timestamptz, timeout_ms bigint)"
            + " WHERE s.inflight IS NOT NULL AND NOT EXISTS (SELECT 1 FROM worker_leases w"
            + "   WHERE w.owner = s.inflight ->> 'node' AND w.lease_until > clock_timestamp())"
            + " ORDER BY i.started LIMIT $1")
        .execute(Tuple.of(limit))
        .compose(rows -> {
          List<InflightRequest> orphans = new ArrayList<>(rows.size());
          rows.forEach(row -> orphans.add(inflightRequest(row)));
          return orphans.isEmpty() ? storeTime().map(now -> new Found(orphans, now))
              : Future.succeededFuture(new Found(orphans, rows.iterator().next().getOffsetDateTime("store_time").toInstant()));
        });
  }

  private Future<Instant> storeTime() {
    return pool.query("SELECT clock_timestamp()").execute()
        .map(rows -> rows.iterator().next().getOffsetDateTime(0).toInstant());
  }

  private static InflightRequest inflightRequest(Row row) {
    return new InflightRequest(row.getString("request_id"), row.getString("node"), row.getString("route"),
        row.getString("method"), row.getString("path"), row.getString("client"), row.getString("idempotency_scope"),
        row.getString("fingerprint"), row.getOffsetDateTime("started").toInstant(), row.getLong("timeout_ms"));
  }
}
