package io.unbroken.testing;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.platform.Migrations;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The real Redis and PostgreSQL that integration tests use: 127.0.0.1 by default, elsewhere via
 * the system properties {@code redis.url} and {@code pg.url}. Each run gets its own Redis key
 * prefix and its own fresh database, so runs never see each other's data. The databases are
 * dropped when the test JVM exits (Redis keys expire by themselves), unless
 * {@code -Dtest.keepDatabases=true} keeps them for a look after a failure.
 */
public final class TestServices {

  public static final String RUN_ID = "t" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  private static final Queue<String> CREATED = new ConcurrentLinkedQueue<>();

  static {
    if (!Boolean.getBoolean("test.keepDatabases")) {
      Runtime.getRuntime().addShutdownHook(new Thread(TestServices::dropCreatedDatabases, "drop-test-databases"));
    }
  }

  private TestServices() {}

  public static String redisUrl() {
    return System.getProperty("redis.url", "redis://127.0.0.1:6379");
  }

  /** The server URL without a database, e.g. {@code postgresql://postgres@127.0.0.1:5432}. */
  public static String postgresServerUrl() {
    return System.getProperty("pg.url", "postgresql://postgres@127.0.0.1:5432");
  }

  /** A key prefix unique to this run and {@code name}. */
  public static UnbrokenConfig.Redis redis(String name) {
    return new UnbrokenConfig.Redis(redisUrl(), "unbroken-test:" + RUN_ID + ":" + name);
  }

  /** A fresh database for this run and {@code name} with the schema migrated, as a node would find it. */
  public static UnbrokenConfig.Postgres migratedDatabase(String name) {
    UnbrokenConfig.Postgres database = freshDatabase(name);
    Migrations.apply(database);
    return database;
  }

  /** Creates a fresh, empty database for this run and {@code name} and returns its settings. */
  public static UnbrokenConfig.Postgres freshDatabase(String name) {
    String database = (RUN_ID + "_" + name).toLowerCase().replaceAll("[^a-z0-9_]", "_");
    try (Connection connection = serverConnection(); Statement statement = connection.createStatement()) {
      statement.execute("DROP DATABASE IF EXISTS " + database);
      statement.execute("CREATE DATABASE " + database);
      CREATED.add(database);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create test database " + database + " on " + postgresServerUrl(), e);
    }
    return new UnbrokenConfig.Postgres(postgresServerUrl() + "/" + database, 4);
  }

  /** A JDBC connection to the server's {@code postgres} database, as the server URL's user. */
  private static Connection serverConnection() throws SQLException {
    String server = postgresServerUrl();
    String jdbc = "jdbc:" + server.replaceFirst("^postgres(ql)?://([^@/]*@)?", "postgresql://") + "/postgres";
    String user = server.matches("^postgres(ql)?://[^@/:]+(:[^@/]*)?@.*")
        ? server.replaceFirst("^postgres(ql)?://([^@/:]+).*", "$2") : "postgres";
    return DriverManager.getConnection(jdbc, user, null);
  }

  /** Drops this run's databases; sessions a test left open are ended first ({@code WITH (FORCE)}). */
  private static void dropCreatedDatabases() {
    if (CREATED.isEmpty()) {
      return;
    }
    try (Connection connection = serverConnection(); Statement statement = connection.createStatement()) {
      for (String database = CREATED.poll(); database != null; database = CREATED.poll()) {
        statement.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
      }
    } catch (SQLException e) {
      System.err.println("Test databases of run " + RUN_ID + " not all dropped: " + e.getMessage());
    }
  }
}
