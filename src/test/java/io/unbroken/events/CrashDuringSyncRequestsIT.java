package io.unbroken.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.pgclient.PgConnectOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The promise of a sync route under a crash: an answer reaches the client only after its
 * {@code RequestCompleted} event is committed, so killing the gateway process ({@code kill -9})
 * in the middle of a stream of requests loses no event of any request whose answer got out.
 */
class CrashDuringSyncRequestsIT {

  private static final Logger log = LoggerFactory.getLogger(CrashDuringSyncRequestsIT.class);

  private static final Path JAR = Path.of(System.getProperty("unbroken.jar", "target/unbroken.jar"));
  private static final Path JAVA = Path.of(System.getProperty("java.home"), "bin", "java");
  private static final int REQUESTS = 1_000;
  private static final int IN_FLIGHT = 32;
  private static final int KILL_AFTER_ANSWERS = REQUESTS / 2;

  @TempDir
  static Path dir;

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenConfig.Postgres database;
  private static Process gatewayProcess;
  private static TestClient gateway;
  private static int adminPort;

  @BeforeAll
  static void startGatewayProcess() throws IOException {
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    upstream.on("/pay", request -> request.response().end("paid"));
    database = TestServices.freshDatabase("crash_sync");
    int port = FreePorts.next();
    adminPort = FreePorts.next();
    Path config = Files.writeString(dir.resolve("unbroken.yaml"), """
        server: { host: 127.0.0.1, port: %d, instances: 2 }
        admin: { host: 127.0.0.1, port: %d }
        postgres: { url: "%s", poolSize: 4 }
        demo: { enabled: false }
        routes:
          - prefix: /pay
            upstream: http://127.0.0.1:%d
            events: sync
            timeout: 10s
        """.formatted(port, adminPort, database.url(), upstreamPort));
    ProcessBuilder builder = new ProcessBuilder(JAVA.toString(), "-jar", JAR.toString(), "--config", config.toString())
        .directory(dir.toFile())
        .redirectOutput(dir.resolve("gateway.out").toFile())
        .redirectError(dir.resolve("gateway.err").toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("UNBROKEN_"));
    gatewayProcess = builder.start();
    Await.until("the gateway process is ready", Duration.ofSeconds(30), CrashDuringSyncRequestsIT::ready);
    gateway = new TestClient(vertx, port, IN_FLIGHT);
  }

  @AfterAll
  static void stopEverything() throws InterruptedException {
    try {
      if (gatewayProcess != null && gatewayProcess.isAlive()) {
        gatewayProcess.destroyForcibly().waitFor(15, TimeUnit.SECONDS);
      }
    } finally {
      Await.result(vertx.close());
    }
  }

  @Test
  void everyAnswerThatReachedTheClientHasItsCompletionRecorded() throws InterruptedException {
    Set<String> answered = ConcurrentHashMap.newKeySet();
    AtomicInteger issued = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicBoolean killed = new AtomicBoolean();

    gateway.onContext(() -> {
      List<Future<Void>> lanes = new ArrayList<>();
      for (int lane = 0; lane < IN_FLIGHT; lane++) {
        lanes.add(sendUntilDone(issued, answered, failed, killed));
      }
      return Future.all(lanes);
    });
    assertThat(gatewayProcess.waitFor(15, TimeUnit.SECONDS)).as("the gateway process is gone").isTrue();

    Set<String> recorded = completedRequestIds();
    Set<String> lost = new HashSet<>(answered);
    lost.removeAll(recorded);
    log.info("{} requests sent, {} answered 200 before the kill, {} failed; {} RequestCompleted recorded; lost {}",
        issued.get(), answered.size(), failed.get(), recorded.size(), lost.size());
    assertThat(killed).as("the gateway was killed mid-run").isTrue();
    assertThat(answered.size() + failed.get()).isEqualTo(REQUESTS);
    assertThat(answered.size()).isBetween(KILL_AFTER_ANSWERS, REQUESTS - 1);
    assertThat(lost).as("answered requests whose RequestCompleted is missing").isEmpty();
  }

  /**
   * One lane of the load: sends the next request while any of the {@link #REQUESTS} are left,
   * and kills the gateway (SIGKILL) as soon as {@link #KILL_AFTER_ANSWERS} answers are in.
   */
  private Future<Void> sendUntilDone(AtomicInteger issued, Set<String> answered, AtomicInteger failed,
      AtomicBoolean killed) {
    int number = issued.incrementAndGet();
    if (number > REQUESTS) {
      issued.decrementAndGet();
      return Future.succeededFuture();
    }
    return gateway.send(HttpMethod.POST, "/pay/" + number)
        .andThen(result -> {
          if (result.succeeded() && result.result().status() == 200) {
            answered.add(result.result().requestId());
          } else {
            failed.incrementAndGet();
          }
          if (answered.size() >= KILL_AFTER_ANSWERS && killed.compareAndSet(false, true)) {
            gatewayProcess.destroyForcibly();
          }
        })
        .transform(done -> sendUntilDone(issued, answered, failed, killed));
  }

  private static boolean ready() {
    assertThat(gatewayProcess.isAlive()).as("the gateway process runs; stderr: %s", output("gateway.err")).isTrue();
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/health/ready"))
        .timeout(Duration.ofSeconds(2)).build();
    try {
      return client.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    } catch (IOException notListeningYet) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for the gateway", e);
    }
  }

  /** Request ids with a committed RequestCompleted event, read straight from the database. */
  private static Set<String> completedRequestIds() {
    PgConnectOptions options = PgConnectOptions.fromUri(database.url());
    String jdbc = "jdbc:postgresql://" + options.getHost() + ":" + options.getPort() + "/" + options.getDatabase();
    Set<String> ids = new HashSet<>();
    try (Connection connection = DriverManager.getConnection(jdbc, options.getUser(), options.getPassword());
         Statement statement = connection.createStatement();
         ResultSet rows = statement.executeQuery("SELECT stream_id FROM events WHERE type = 'RequestCompleted'")) {
      while (rows.next()) {
        ids.add(rows.getString(1).substring("request-".length()));
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read the events of " + jdbc, e);
    }
    return ids;
  }

  private static String output(String name) {
    try {
      return Files.readString(dir.resolve(name), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
