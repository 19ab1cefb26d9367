package io.unbroken.ids.pg;

import io.unbroken.ids.SnowflakeIds;
import io.unbroken.ids.WorkerLeaseStore;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

/**
 * Worker-id leases in {@code worker_leases} (migration V6), timed by the database's clock. Every
 * change is one statement conditioned on the owner or on the lease having ended, so two nodes never
 * hold one id; two nodes racing for the same free id serialize on its row, and the loser tries the
 * next free one.
 */
public final class PgWorkerLeaseStore implements WorkerLeaseStore {

  // More races lost in a row than there are ids means the datacenter is full by now anyway.
  private static final int ATTEMPTS = SnowflakeIds.MAX_WORKER + 1;

  private final Pool pool;

  public PgWorkerLeaseStore(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<Integer> acquire(int datacenter, String owner, Duration ttl) {
    return acquire(datacenter, owner, ttl, ATTEMPTS);
  }

  private Future<Integer> acquire(int datacenter, String owner, Duration ttl, int attemptsLeft) {
    return pool.preparedQuery("INSERT INTO worker_leases (datacenter, worker_id, owner, lease_until)"
            + " SELECT $1, w, $2, clock_timestamp() + $3 * interval '1 millisecond'"
            + " FROM generate_series(0, " + SnowflakeIds.MAX_WORKER + ") AS w"
            + " WHERE NOT EXISTS (SELECT 1 FROM worker_leases l WHERE l.datacenter = $1 AND l.worker_id = w"
            + "   AND l.lease_until > clock_timestamp())"
            + " ORDER BY w LIMIT 1"
            + " ON CONFLICT (datacenter, worker_id) DO UPDATE SET owner = EXCLUDED.owner,"
            + " lease_until = EXCLUDED.lease_until WHERE worker_leases.lease_until <= clock_timestamp()"
            + " RETURNING worker_id")
        .execute(Tuple.of(datacenter, owner, ttl.toMillis()))
        .compose(rows -> {
          if (rows.size() == 1) {
            return Future.succeededFuture(rows.iterator().next().getInteger(0));
          }
          // Either no id was free, or another node took the one chosen a moment before: look again.
          return attemptsLeft > 1 && rows.rowCount() == 0
              ? anyFree(datacenter).compose(free -> free
                  ? acquire(datacenter, owner, ttl, attemptsLeft - 1)
                  : Future.failedFuture(new NoWorkerIdAvailable(datacenter)))
              : Future.failedFuture(new NoWorkerIdAvailable(datacenter));
        });
  }

  private Future<Boolean> anyFree(int datacenter) {
    return pool.preparedQuery("SELECT count(*) FROM worker_leases WHERE datacenter = $1"
            + " AND lease_until > clock_timestamp()")
        .execute(Tuple.of(datacenter))
        .map(rows -> rows.iterator().next().getLong(0) <= SnowflakeIds.MAX_WORKER);
  }

  @Override
  public Future<Boolean> renew(int datacenter, int workerId, String owner, Duration ttl) {
    return pool.preparedQuery("UPDATE worker_leases SET lease_until = clock_timestamp() + $4 * interval '1 millisecond'"
            + " WHERE datacenter = $1 AND worker_id = $2 AND owner = $3 AND lease_until > clock_timestamp()")
        .execute(Tuple.of(datacenter, workerId, owner, ttl.toMillis()))
        .map(updated -> updated.rowCount() == 1);
  }

  @Override
  public Future<Set<String>> liveOwners(int datacenter) {
    return pool.preparedQuery("SELECT DISTINCT owner FROM worker_leases WHERE datacenter = $1"
            + " AND lease_until > clock_timestamp()")
        .execute(Tuple.of(datacenter))
        .map(rows -> {
          Set<String> owners = new HashSet<>();
          rows.forEach(row -> owners.add(row.getString(0)));
          return owners;
        });
  }

  @Override
  public Future<Void> release(int datacenter, int workerId, String owner) {
    return pool.preparedQuery("DELETE FROM worker_leases WHERE datacenter = $1 AND worker_id = $2 AND owner = $3")
        .execute(Tuple.of(datacenter, workerId, owner))
        .mapEmpty();
  }
}
