package io.unbroken.platform;

import io.unbroken.config.UnbrokenConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/** Builds the node's PostgreSQL pool from configuration and checks that the server answers. */
public final class PostgresConnector {

  private PostgresConnector() {}

  public static Pool create(Vertx vertx, UnbrokenConfig.Postgres config) {
    return PgBuilder.pool()
        .with(new PoolOptions().setMaxSize(config.poolSize()).setMaxWaitQueueSize(4096))
        .connectingTo(connectOptions(config))
        .using(vertx)
        .build();
  }

  /**
   * The URL's settings, with JIT compilation off unless the URL sets it ({@code ?options=-c%20jit=on}): the
   * node's statements are short, and a plan PostgreSQL misjudges as costly (the reaper's, on a
   * table not analyzed yet) took 280 ms of compiling for 30 ms of work, every heartbeat.
   */
  public static PgConnectOptions connectOptions(UnbrokenConfig.Postgres config) {
    PgConnectOptions options = PgConnectOptions.fromUri(config.url()).setPipeliningLimit(256)
        .setCachePreparedStatements(true);
    if (!options.getProperties().getOrDefault("options", "").contains("jit")) {
      options.addProperty("jit", "off");
    }
    return options;
  }

  public static Future<Void> selectOne(Pool pool) {
    return pool.query("SELECT 1").execute().mapEmpty();
  }
}
