package io.unbroken.platform;

import io.unbroken.config.UnbrokenConfig;
import java.net.UnknownHostException;
import io.vertx.pgclient.PgConnectOptions;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * Brings the PostgreSQL schema to the version this build expects, with Flyway's versioned
 * migrations under {@code db/migration}. Blocking (JDBC): run once at start, before any verticle
 * is deployed, never on an event loop.
 */
public final class Migrations {

  private Migrations() {}

  public static MigrateResult apply(UnbrokenConfig.Postgres config) {
    PgConnectOptions options = PostgresConnector.connectOptions(config);
    // The pool's TLS mode, not JDBC's default (prefer), which falls back to cleartext and verifies nothing.
    String jdbcUrl = "jdbc:postgresql://" + options.getHost() + ":" + options.getPort() + "/" + options.getDatabase()
        + "?connectTimeout=5&sslmode=" + options.getSslMode().value;
    try {
      return Flyway.configure()
          .dataSource(jdbcUrl, options.getUser(), options.getPassword())
          .locations("classpath:db/migration")
          .load()
          .migrate();
    } catch (FlywayException e) {
      throw new StartupFailure(
          "postgres.url: cannot migrate " + StartupFailure.redact(config.url()) + ": " + rootMessage(e));
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    if (root instanceof UnknownHostException) {
      return "unknown host " + root.getMessage(); // its message is the bare host name
    }
    return root.getMessage() == null ? root.toString() : root.getMessage().lines().findFirst().orElse("");
  }
}
