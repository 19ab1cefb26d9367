package io.unbroken.zombie.pg;

import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.zombie.StatusMonitors;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * Status monitors in {@code status_monitors} (migration V9), every time judged by the database's
 * clock. A running request whose node holds no live lease any more shows as ended: its node died
 * with it, and nobody else will answer it.
 */
public final class PgStatusMonitors implements StatusMonitors {

  private final Pool pool;

  public PgStatusMonitors(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<Void> open(String requestId, String node, Duration heartbeat, Duration keep) {
    return pool.preparedQuery("INSERT INTO status_monitors (request_id, node, state, heartbeat_ms, keep_ms,"
            + " heard_until, expires_at) VALUES ($1, $2, 'running', $3, $4,"
            + " clock_timestamp() + $3 * interval '1 millisecond', clock_timestamp() + $4 * interval '1 millisecond')")
        .execute(Tuple.of(requestId, node, heartbeat.toMillis(), keep.toMillis()))
        .mapEmpty();
  }

  @Override
  public Future<Optional<Monitor>> poll(String requestId) {
    return pool.preparedQuery("UPDATE status_monitors SET heard_until = CASE"
            + "   WHEN state = 'running' AND heard_until > clock_timestamp()"
            + "   THEN clock_timestamp() + heartbeat_ms * interval '1 millisecond' ELSE heard_until END,"
            + " expires_at = CASE WHEN state = 'running'"
            + "   THEN greatest(expires_at, clock_timestamp() + keep_ms * interval '1 millisecond') ELSE expires_at END"
            + " WHERE request_id = $1 AND expires_at > clock_timestamp()"
            + " RETURNING node, state, heartbeat_ms, answer, reason, EXISTS (SELECT 1 FROM worker_leases w"
            + "   WHERE w.owner = status_monitors.node AND w.lease_until > clock_timestamp()) AS node_alive")
        .execute(Tuple.of(requestId))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(monitor(requestId, rows.iterator().next())));
  }

  private static Monitor monitor(String requestId, Row row) {
    State state = State.valueOf(row.getString("state").toUpperCase(Locale.ROOT));
    String reason = row.getString("reason");
    if (state == State.RUNNING && !row.getBoolean("node_alive")) {
      state = State.ENDED;
      reason = "node-lost";
    }
    JsonObject answer = (JsonObject) row.getValue("answer");
    return new Monitor(requestId, row.getString("node"), state, Duration.ofMillis(row.getLong("heartbeat_ms")),
        Optional.ofNullable(answer).map(StoredAnswer::fromJson), reason);
  }

  @Override
  public Future<Boolean> heard(String requestId) {
    return pool.preparedQuery("SELECT heard_until > clock_timestamp() FROM status_monitors WHERE request_id = $1")
        .execute(Tuple.of(requestId))
        .map(rows -> rows.size() == 1 && rows.iterator().next().getBoolean(0));
  }

  @Override
  public Future<Void> answered(String requestId, StoredAnswer answer) {
    return settle(requestId, "answered", answer.toJson(), "");
  }

  @Override
  public Future<Void> ended(String requestId, String reason) {
    return settle(requestId, "ended", null, reason);
  }

  private Future<Void> settle(String requestId, String state, JsonObject answer, String reason) {
    return pool.preparedQuery("UPDATE status_monitors SET state = $2, answer = $3, reason = $4,"
            + " expires_at = clock_timestamp() + keep_ms * interval '1 millisecond'"
            + " WHERE request_id = $1 AND state = 'running'")
        .execute(Tuple.of(requestId, state, answer, reason))
        .mapEmpty();
  }

  @Override
  public Future<Integer> purgeExpired() {
    return pool.query("DELETE FROM status_monitors WHERE expires_at <= clock_timestamp()").execute()
        .map(deleted -> deleted.rowCount());
  }
}
