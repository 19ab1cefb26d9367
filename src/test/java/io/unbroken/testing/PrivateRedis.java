package io.unbroken.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A redis-server of a test's own on a free port, empty and not persisting, for tests that kill,
 * freeze, flush or restart Redis without disturbing the shared one.
 */
public final class PrivateRedis implements AutoCloseable {

  private static final Duration START = Duration.ofSeconds(15);

  private final int port;
  private final Path dir;
  private Process server;

  private PrivateRedis(int port, Path dir) {
    this.port = port;
    this.dir = dir;
  }

  /** Starts a server on a free port; its log goes to {@code dir}. */
  public static PrivateRedis start(Path dir) throws IOException {
    PrivateRedis redis = new PrivateRedis(FreePorts.next(), dir);
    redis.restart();
    return redis;
  }

  /** Starts the server (again) on its port, empty. */
  public void restart() throws IOException {
    File log = dir.resolve("redis-" + port + ".log").toFile();
    server = new ProcessBuilder(System.getProperty("redis.server", "redis-server"),
        "--port", Integer.toString(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
        "--dir", dir.toString())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log))
        .start();
    Process started = server;
    Await.until("the private redis-server listens on " + port, START, () -> !started.isAlive() || accepts(port));
    assertThat(server.isAlive()).as("private redis-server on port %d (log: %s)", port, log).isTrue();
  }

  /** Settings for a node on this server, under a key prefix of this run and {@code name}. */
  public UnbrokenConfig.Redis settings(String name) {
    return new UnbrokenConfig.Redis("redis://127.0.0.1:" + port, "unbroken-test:" + TestServices.RUN_ID + ":" + name);
  }

  /** Kills the server as a crash would (SIGKILL): no goodbye to its clients. */
  public void kill() throws InterruptedException {
    server.destroyForcibly();
    assertThat(server.waitFor(10, TimeUnit.SECONDS)).as("private redis-server exited").isTrue();
  }

  /** Sends a signal (STOP freezes it as a hung host would, CONT wakes it). */
  public void signal(String signal) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(server.pid())).inheritIO().start();
    assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("kill -%s %d", signal, server.pid())
        .isTrue();
  }

  /** Runs redis-cli against this server, e.g. {@code FLUSHALL}. */
  public void command(String... command) throws IOException, InterruptedException {
    String[] call = new String[command.length + 3];
    call[0] = "redis-cli";
    call[1] = "-p";
    call[2] = Integer.toString(port);
    System.arraycopy(command, 0, call, 3, command.length);
    Process cli = new ProcessBuilder(call).redirectErrorStream(true).start();
    String output = new String(cli.getInputStream().readAllBytes());
    assertThat(cli.waitFor(10, TimeUnit.SECONDS) && cli.exitValue() == 0).as("redis-cli %s: %s", String.join(" ", command),
        output).isTrue();
  }

  /** Kills the server if it still runs (SIGKILL ends a frozen one too). */
  @Override
  public void close() throws InterruptedException {
    if (server.isAlive()) {
      kill();
    }
  }

  private static boolean accepts(int port) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
