package io.unbroken.locks.pg;

import io.unbroken.locks.FencingTokens;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;

/**
 * Fencing tokens in {@code resource_state}: durable, so they keep growing through a Redis loss or
 * restart, where a counter kept beside the lease could start again from 1.
 */
public final class PgFencingTokens implements FencingTokens {

  private final Pool pool;

  public PgFencingTokens(Pool pool) {
    this.pool = pool;
  }

  @Override
  public Future<Long> next(String resource) {
    return pool.preparedQuery("INSERT INTO resource_state (resource, version, fencing_token) VALUES ($1, 0, 1)"
            + " ON CONFLICT (resource) DO UPDATE SET fencing_token = resource_state.fencing_token + 1"
            + " RETURNING fencing_token")
        .execute(Tuple.of(resource))
        .map(rows -> rows.iterator().next().getLong(0));
  }

  @Override
  public Future<Boolean> completed(String resource, long token) {
    return pool.preparedQuery("UPDATE resource_state SET version = version + 1"
            + " WHERE resource = $1 AND fencing_token = $2")
        .execute(Tuple.of(resource, token))
        .map(rows -> rows.rowCount() == 1);
  }
}
