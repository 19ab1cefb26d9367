package io.unbroken.testing;

import io.unbroken.config.UnbrokenConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A PostgreSQL server of a test's own, for tests that stop and start their database: a cluster
 * made by {@code initdb} in a fresh directory under /tmp, served on a free port of 127.0.0.1 with
 * trust authentication. PostgreSQL refuses to run as root, so when the tests run as root its tools
 * run as the {@code postgres} OS user, which then owns the directory. {@link #close} stops the
 * server and deletes the directory; the machine's shared server is never touched.
 */
public final class PrivatePostgres implements AutoCloseable {

  private static final long COMMAND_TIMEOUT_SECONDS = 60;

  private final Path bin;
  private final Path dir;
  private final Path data;
  private final int port;
  private boolean running;

  private PrivatePostgres(Path bin, Path dir, int port) {
    this.bin = bin;
    this.dir = dir;
    this.data = dir.resolve("data");
    this.port = port;
  }

  /** Makes a new cluster and starts its server; on any failure nothing is left behind. */
  public static PrivatePostgres start() {
    Path bin = binaries();
    Path dir;
    try {
      dir = Files.createTempDirectory(Path.of("/tmp"), "unbroken-pg-");
      if (runningAsRoot()) {
        Files.setOwner(dir, dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres"));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare a directory for a private PostgreSQL", e);
    }
    PrivatePostgres server = new PrivatePostgres(bin, dir, FreePorts.next());
    try {
      server.run("initdb", "-D", server.data.toString(), "-A", "trust", "-U", "postgres", "--no-sync");
      server.startServer();
      return server;
    } catch (RuntimeException | Error e) {
      server.close();
      throw e;
    }
  }

  public int port() {
    return port;
  }

  /** Starts the stopped server again on the same port and data. */
  public void startServer() {
    run("pg_ctl", "-D", data.toString(), "-o",
        "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off",
        "-l", dir.resolve("server.log").toString(), "-w", "-t", "30", "start");
    running = true;
  }

  /** Stops the server the way an operator's fast shutdown does: sessions are ended, connections closed. */
  public void stopServer() {
    run("pg_ctl", "-D", data.toString(), "-m", "fast", "-w", "-t", "30", "stop");
    running = false;
  }

  /** Creates an empty database on this server and returns settings that point at it. */
  public UnbrokenConfig.Postgres createDatabase(String name, int poolSize) {
    String jdbc = "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    try (Connection connection = DriverManager.getConnection(jdbc, "postgres", null);
         Statement statement = connection.createStatement()) {
      statement.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create database " + name + " via " + jdbc, e);
    }
    return new UnbrokenConfig.Postgres("postgresql://postgres@127.0.0.1:" + port + "/" + name, poolSize);
  }

  @Override
  public void close() {
    try {
      if (running) {
        run("pg_ctl", "-D", data.toString(), "-m", "immediate", "-w", "-t", "30", "stop");
        running = false;
      }
    } finally {
      deleteRecursively(dir);
    }
  }

  /** Runs one of PostgreSQL's tools to its end; a failure carries the tool's output. */
  private void run(String tool, String... args) {
    List<String> command = new ArrayList<>();
    if (runningAsRoot()) {
      command.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    command.add(bin.resolve(tool).toString());
    command.addAll(List.of(args));
    Path output = dir.resolve(tool + ".out");
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(output.toFile()).start();
      if (!process.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(command + " did not finish within " + COMMAND_TIMEOUT_SECONDS + " s");
      }
      if (process.exitValue() != 0) {
        throw new IllegalStateException(command + " exited " + process.exitValue() + ":\n"
            + Files.readString(output, StandardCharsets.UTF_8) + serverLog());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + command, e);
    }
  }

  private String serverLog() throws IOException {
    Path log = dir.resolve("server.log");
    return Files.exists(log) ? "\nserver log:\n" + Files.readString(log, StandardCharsets.UTF_8) : "";
  }

  /** {@code pg.bin} if set, else /usr/local/bin when it has the tools, else the newest /usr/lib/postgresql/N/bin. */
  private static Path binaries() {
    String configured = System.getProperty("pg.bin");
    if (configured != null) {
      return Path.of(configured);
    }
    if (Files.isExecutable(Path.of("/usr/local/bin/pg_ctl")) && Files.isExecutable(Path.of("/usr/local/bin/initdb"))) {
      return Path.of("/usr/local/bin");
    }
    try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
      return versions.map(version -> version.resolve("bin"))
          .filter(candidate -> Files.isExecutable(candidate.resolve("pg_ctl")))
          .max(Comparator.comparingInt(candidate -> Integer.parseInt(candidate.getParent().getFileName().toString()
              .replaceAll("\\D", "0"))))
          .orElseThrow(() -> new IllegalStateException("no pg_ctl in /usr/local/bin or /usr/lib/postgresql/*/bin"));
    } catch (IOException e) {
      throw new UncheckedIOException("no PostgreSQL server binaries found (set -Dpg.bin=DIR)", e);
    }
  }

  private static boolean runningAsRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + root, e);
    }
  }
}
