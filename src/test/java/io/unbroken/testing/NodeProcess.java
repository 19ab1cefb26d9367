package io.unbroken.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A node in a JVM of its own, started from the built jar with a YAML configuration, for tests of
 * several nodes and of nodes killed mid-request ({@code kill -9}).
 */
public final class NodeProcess implements AutoCloseable {

  private static final Path JAR = Path.of(System.getProperty("unbroken.jar", "target/unbroken.jar"));
  private static final Path FAKETIME = Path.of(System.getProperty("faketime.library",
      "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"));
  private static final Duration START = Duration.ofSeconds(60);

  private final String name;
  private final Process process;
  private final Path log;

  private NodeProcess(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /** Starts a node with {@code yaml} as its configuration and waits until it serves. */
  public static NodeProcess start(Path dir, String name, String yaml) throws IOException {
    return start(dir, name, yaml, "");
  }

  /**
   * Starts a node whose wall clock is shifted by {@code clockShift} (libfaketime's offset syntax,
   * such as {@code +45s} or {@code -5m}; empty for none). Its monotonic clock is left alone, as a
   * badly synchronised host's would be.
   */
  public static NodeProcess start(Path dir, String name, String yaml, String clockShift) throws IOException {
    Path config = Files.writeString(dir.resolve(name + ".yaml"), yaml, StandardCharsets.UTF_8);
    Path log = dir.resolve(name + ".log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder builder = new ProcessBuilder(java, "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-jar", JAR.toString(), "--config", config.toString())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    // Settings in this environment would override the file.
    builder.environment().keySet().removeIf(key -> key.startsWith("UNBROKEN_"));
    if (!clockShift.isEmpty()) {
      assertThat(FAKETIME).as("libfaketime (Debian package faketime) for a node with a shifted clock").isRegularFile();
      builder.environment().put("LD_PRELOAD", FAKETIME.toString());
      builder.environment().put("FAKETIME", clockShift);
      builder.environment().put("FAKETIME_DONT_FAKE_MONOTONIC", "1");
      // Without it the JVM's timed waits return at once or late (libfaketime's fix for old glibc).
      builder.environment().put("FAKETIME_FORCE_MONOTONIC_FIX", "0");
    }
    NodeProcess node = new NodeProcess(name, builder.start(), log);
    try {
      Await.until("node " + name + " serves", START, node::serving);
    } catch (AssertionError e) {
      node.close();
      throw new AssertionError(e.getMessage() + "; its output:\n" + node.log(), e);
    }
    return node;
  }

  private boolean serving() {
    if (!process.isAlive()) {
      throw new AssertionError("node " + name + " exited with " + process.exitValue() + ":\n" + log());
    }
    return log().contains(" serving on ");
  }

  /** Sends SIGHUP, as an operator does after renewing certificates. */
  public void hangUp() throws IOException, InterruptedException {
    Process hangUp = new ProcessBuilder("kill", "-HUP", Long.toString(process.pid())).inheritIO().start();
    assertThat(hangUp.waitFor(10, TimeUnit.SECONDS) && hangUp.exitValue() == 0).as("kill -HUP %s", name).isTrue();
  }

  /** Sends SIGKILL, as a crash would, and waits for the process to end. */
  public void kill() throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-9", Long.toString(process.pid())).inheritIO().start();
    assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("kill -9 %s", name).isTrue();
    assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("node %s ended", name).isTrue();
  }

  public String log() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  /** Stops the node (SIGTERM, then SIGKILL if it lingers). */
  @Override
  public void close() {
    if (!process.isAlive()) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
