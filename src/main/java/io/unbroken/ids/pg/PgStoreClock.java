package io.unbroken.ids.pg;

import io.unbroken.ids.StoreClock;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.time.Instant;

/** PostgreSQL's clock ({@code clock_timestamp()}), the one its leases, expiries and event times are set by. */
public final class PgStoreClock implements StoreClock {

  private final Pool pool;

  public PgStoreClock(Pool pool) {
    this.pool = pool;
  }

  @Override
  public String store() {
    return "postgres";
  }

  @Override
  public Future<Instant> read() {
    return pool.query("SELECT clock_timestamp()").execute()
        .map(rows -> rows.iterator().next().getOffsetDateTime(0).toInstant());
  }
}
