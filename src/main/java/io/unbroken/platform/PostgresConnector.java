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

  public static PgConnectOptions connectOptions(UnbrokenConfig.Postgres config) {
    return PgConnectOptions.fromUri(config.url()).setPipeliningLimit(256).setCachePreparedStatements(true);
  }

  public static Future<Void> selectOne(Pool pool) {
    return pool.query("SELECT 1").execute().mapEmpty();
  }
}
