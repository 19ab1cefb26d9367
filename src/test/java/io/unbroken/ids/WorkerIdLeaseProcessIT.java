package io.unbroken.ids;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.ids.redis.RedisWorkerLeaseStore;
import io.unbroken.platform.RedisConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Worker-id leases across real node processes on the real Redis: two live nodes never hold the same
 * id, and a node killed with SIGKILL (no shutdown hook, so no release) keeps its id leased until
 * the lease runs out, after which the id goes to the next node.
 */
class WorkerIdLeaseProcessIT {

  private static final int DATACENTER = 7;
  private static final Duration LEASE = Duration.ofSeconds(2);
  private static final Duration HEARTBEAT = Duration.ofMillis(500);
  private static final Duration NODE_START = Duration.ofSeconds(30);
  private static final Duration REUSE_DEADLINE = Duration.ofSeconds(10);
  private static final Duration PROBE_TTL = Duration.ofSeconds(30);
  private static final Pattern LEASED =
      Pattern.compile("Leased worker id (\\d+) of datacenter " + DATACENTER + " for node (\\S+)");
  private static final Pattern SERVING = Pattern.compile("Unbroken node \\S+ serving on ");

  @TempDir
  Path workDir;

  private final List<Process> processes = new ArrayList<>();
  private UnbrokenConfig.Redis redisSettings;
  private Vertx vertx;
  private Redis redis;
  private WorkerLeaseStore probe;

  @BeforeEach
  void connectProbe() {
    redisSettings = TestServices.redis("WorkerIdLeaseProcessIT:" + UUID.randomUUID());
    vertx = Vertx.vertx();
    redis = RedisConnector.create(vertx, redisSettings);
    probe = new RedisWorkerLeaseStore(redis, redisSettings.keyPrefix());
  }

  @AfterEach
  void stopNodesAndProbe() throws InterruptedException {
    for (Process process : processes) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
    Await.result(redis.close());
    Await.result(vertx.close());
  }

  @Test
  @Timeout(60)
  void liveNodesHoldDistinctIdsAndAKilledNodesIdIsReusedOnlyAfterItsLeaseRunsOut()
      throws IOException, InterruptedException {
    // Both start at once, so their first acquires race for the lowest free id.
    Node first = startNode("first");
    Node second = startNode("second");
    first.awaitStarted();
    second.awaitStarted();
    int killedId = first.workerId();

    assertThat(first.workerId()).isNotEqualTo(second.workerId());
    assertThat(List.of(first.workerId(), second.workerId())).containsExactlyInAnyOrder(0, 1);
    assertThat(first.nodeId()).isNotEqualTo(second.nodeId());
    assertThat(acquireAndRelease("probe-while-both-live")).as("lowest id neither node holds").isEqualTo(2);

    long killedAt = first.kill();
    assertThat(acquireAndRelease("probe-just-after-kill"))
        .as("id leased right after the kill: the killed node's lease outlives it").isNotEqualTo(killedId);

    long reusedAt = acquireWhenFree(killedId, "probe-until-free");
    // The last renewal before the kill was sent at most one heartbeat earlier (give it another as
    // slack for a busy machine), so the lease could not have run out in less than this.
    Duration earliestExpiry = LEASE.minus(HEARTBEAT.multipliedBy(2));
    assertThat(Duration.ofNanos(reusedAt - killedAt)).as("time from kill to reuse")
        .isGreaterThanOrEqualTo(earliestExpiry);
    Await.result(probe.release(DATACENTER, killedId, "probe-until-free"));

    Node third = startNode("third");
    third.awaitStarted();
    assertThat(third.workerId()).as("id of the third node").isEqualTo(killedId);
    assertThat(second.process().isAlive()).isTrue();
    assertThat(second.log()).doesNotContain("lease lost");
  }

  /** Acquires the lowest free id as {@code owner}, gives it back and returns it. */
  private int acquireAndRelease(String owner) {
    int id = Await.result(probe.acquire(DATACENTER, owner, PROBE_TTL));
    Await.result(probe.release(DATACENTER, id, owner));
    return id;
  }

  /**
   * Polls until {@code owner} is given {@code wanted}, giving every other id back at once so each
   * poll is offered the lowest free id again; returns System.nanoTime() at success.
   */
  private long acquireWhenFree(int wanted, String owner) {
    AtomicLong acquiredAt = new AtomicLong();
    Await.until("worker id " + wanted + " is free again", REUSE_DEADLINE, () -> {
      int got = Await.result(probe.acquire(DATACENTER, owner, PROBE_TTL));
      if (got == wanted) {
        acquiredAt.set(System.nanoTime());
        return true;
      }
      Await.result(probe.release(DATACENTER, got, owner));
      return false;
    });
    return acquiredAt.get();
  }

  private Node startNode(String name) throws IOException {
    String jar = System.getProperty("unbroken.jar");
    assertThat(jar).as("system property unbroken.jar (set by failsafe; run mvn verify)").isNotBlank();
    assertThat(Path.of(jar)).as("the node jar, built in the package phase").exists();
    Path config = workDir.resolve(name + ".yaml");
    Files.writeString(config, """
        server:   { host: 127.0.0.1, port: %d }
        admin:    { host: 127.0.0.1, port: %d }
        redis:    { url: "%s", keyPrefix: "%s" }
        node:     { datacenter: %d, workerLease: %dms, heartbeat: %dms }
        routes:
          - prefix: /
            upstream: http://127.0.0.1:9
        """.formatted(FreePorts.next(), FreePorts.next(), redisSettings.url(), redisSettings.keyPrefix(), DATACENTER,
        LEASE.toMillis(), HEARTBEAT.toMillis()), StandardCharsets.UTF_8);
    Path log = workDir.resolve(name + ".log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder builder = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-jar", jar, "--config", config.toString())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    // Settings in this environment would override the file.
    builder.environment().keySet().removeIf(key -> key.startsWith("UNBROKEN_"));
    Process process = builder.start();
    processes.add(process);
    return new Node(name, process, log);
  }

  /** One node process and the file its output goes to. */
  private record Node(String name, Process process, Path logFile) {

    void awaitStarted() {
      try {
        Await.until("node " + name + " has started", NODE_START, this::started);
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "; its output:\n" + log(), e);
      }
    }

    private boolean started() {
      if (!process.isAlive()) {
        throw new AssertionError("node " + name + " exited with " + process.exitValue());
      }
      String output = log();
      return LEASED.matcher(output).find() && SERVING.matcher(output).find();
    }

    int workerId() {
      return Integer.parseInt(leased().group(1));
    }

    String nodeId() {
      return leased().group(2);
    }

    /** Sends SIGKILL and waits for the process to end; returns System.nanoTime() at the kill. */
    long kill() throws IOException, InterruptedException {
      long killedAt = System.nanoTime();
      Process kill = new ProcessBuilder("kill", "-9", Long.toString(process.pid())).inheritIO().start();
      assertThat(kill.waitFor(10, TimeUnit.SECONDS)).as("kill -9 finished").isTrue();
      assertThat(kill.exitValue()).as("exit code of kill -9").isZero();
      assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("node " + name + " ended").isTrue();
      assertThat(process.exitValue()).as("exit code of a process ended by SIGKILL").isEqualTo(128 + 9);
      return killedAt;
    }

    String log() {
      try {
        return Files.readString(logFile, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new AssertionError("cannot read the output of node " + name, e);
      }
    }

    private Matcher leased() {
      Matcher matcher = LEASED.matcher(log());
      assertThat(matcher.find()).as("node " + name + " logged its leased worker id").isTrue();
      return matcher;
    }
  }
}
