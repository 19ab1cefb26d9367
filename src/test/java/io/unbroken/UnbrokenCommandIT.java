package io.unbroken;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line as an operator meets it: the shaded jar run as a real process, its exit code
 * and the one line it writes to stderr when it cannot run.
 */
class UnbrokenCommandIT {

  private static final Path JAR = Path.of(System.getProperty("unbroken.jar", "target/unbroken.jar"));
  private static final Path JAVA = Path.of(System.getProperty("java.home"), "bin", "java");

  @TempDir
  Path dir;

  private final List<Process> processes = new ArrayList<>();
  private int launched;

  /** A process that has exited, with what it wrote. */
  record Exited(int code, List<String> stdout, List<String> stderr) {}

  @AfterEach
  void destroyProcesses() throws InterruptedException {
    for (Process process : processes) {
      process.destroy();
      if (!process.waitFor(15, SECONDS)) {
        process.destroyForcibly().waitFor(15, SECONDS);
      }
    }
  }

  @Test
  void helpPrintsUsageAndExitsZero() {
    Exited exited = run("--help");

    assertThat(exited.code()).isZero();
    assertThat(String.join("\n", exited.stdout()))
        .startsWith("Usage: unbroken ")
        .contains("--config=FILE", "--port=PORT", "--admin-port=PORT", "--set=KEY=VALUE", "--cluster")
        .contains("Exit codes at start: 1 could not start", "2 bad configuration");
    assertThat(exited.stderr()).isEmpty();
  }

  @Test
  void anAdminOthersCanReachWithoutATokenExitsTwoWithOneLine() {
    Exited exited = run("--set", "admin.host=0.0.0.0");

    assertThat(exited.code()).isEqualTo(2);
    assertThat(exited.stderr()).containsExactly("unbroken: bad configuration: command line: admin.host: '0.0.0.0' lets"
        + " other machines reach the admin API, which has no token: set admin.token (or UNBROKEN_ADMIN_TOKEN), or"
        + " admin.insecure: true to serve it open on purpose");
  }

  @Test
  void anUnknownKeyExitsTwoWithOneLineNamingFileLineAndKey() {
    Path config = write("""
        # a gateway in front of the payments service
        servr: { port: 18080 }
        routes:
          - prefix: /api
            upstream: http://127.0.0.1:18081
        """);

    Exited exited = run("--config", config.toString());

    assertThat(exited.code()).isEqualTo(2);
    assertThat(exited.stderr()).containsExactly("unbroken: bad configuration: " + config
        + ":2: servr: unknown key (known here: admin, cluster, demo, eventStore, idempotency, node, postgres, redis, routes, sagas, server)");
  }

  @Test
  void anUnreachableRedisExitsOneWithOneLineNamingTheKeyAndAddress() {
    assertThat(exitOneLineWith("redis: { url: \"redis://127.0.0.1:1\" }"))
        .startsWith("unbroken: cannot start: redis.url: cannot reach redis://127.0.0.1:1: ")
        .containsIgnoringCase("connection refused");
  }

  @Test
  void aRedisPasswordIsNotPrinted() {
    assertThat(exitOneLineWith("redis: { url: \"redis://:s3cret-pass@127.0.0.1:1\" }"))
        .startsWith("unbroken: cannot start: redis.url: cannot reach redis://:***@127.0.0.1:1: ")
        .doesNotContain("s3cret-pass");
  }

  @Test
  void anUnreachablePostgresExitsOneWithOneLineNamingTheKeyAndAddress() {
    assertThat(exitOneLineWith("postgres: { url: \"postgresql://postgres:s3cret-pass@127.0.0.1:1/unbroken\" }"))
        .startsWith("unbroken: cannot start: postgres.url: ")
        .contains("postgresql://postgres:***@127.0.0.1:1/unbroken")
        .containsIgnoringCase("connection refused")
        .doesNotContain("s3cret-pass");
  }

  @Test
  void aTakenServerPortExitsOneWithOneLineNamingTheKey() throws IOException {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      int port = taken.getLocalPort();

      Exited exited = run("--port", String.valueOf(port), "--admin-port", String.valueOf(freePort()),
          "--set", "server.host=127.0.0.1", "--set", "demo.port=" + freePort());

      assertThat(exited.code()).isEqualTo(1);
      assertThat(exited.stderr()).singleElement().asString()
          .startsWith("unbroken: cannot start: server.port: cannot listen on 127.0.0.1:" + port + ": ");
    }
  }

  @Test
  void theEmbeddedDefaultServesTheDemoThroughTheGateway() throws Exception {
    int port = freePort();
    Process process = start("--port", String.valueOf(port), "--admin-port", String.valueOf(freePort()),
        "--set", "demo.port=" + freePort());
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/demo"))
        .timeout(Duration.ofSeconds(2)).build();

    HttpResponse<String> response = null;
    Instant deadline = Instant.now().plusSeconds(10);
    while (response == null) {
      assertThat(process.isAlive()).as("the node is running; stderr: %s", stderr()).isTrue();
      assertThat(Instant.now()).as("the demo answers through the gateway within 10 s").isBefore(deadline);
      try {
        response = client.send(request, HttpResponse.BodyHandlers.ofString());
      } catch (IOException notListeningYet) {
        Thread.sleep(100);
      }
    }

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).contains("application/json");
    JsonObject body = new JsonObject(response.body());
    assertThat(body.getString("service")).isEqualTo("unbroken demo upstream");
    assertThat(body.getString("method")).isEqualTo("GET");
    assertThat(body.getString("path")).isEqualTo("/demo");
    assertThat(response.headers().firstValue("X-Request-Id")).isPresent()
        .contains(body.getString("requestId"));
    assertThat(body.getString("requestId")).matches("\\d+");
  }

  /** Listener ports nothing else uses, so a failure is about the store under test. */
  private static String listeners() {
    return "server: { host: 127.0.0.1, port: " + freePort() + " }\n"
        + "admin: { host: 127.0.0.1, port: " + freePort() + " }\n";
  }

  /** Runs the command to its end; no case takes more than 30 s. */
  private Exited run(String... args) {
    Process process = start(args);
    try {
      assertThat(process.waitFor(30, SECONDS)).as("exited within 30 s; stderr: %s", stderr()).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for " + List.of(args), e);
    }
    return new Exited(process.exitValue(), lines("stdout"), lines("stderr"));
  }

  /** Output goes to files, so a chatty process never blocks on a full pipe. */
  private Process start(String... args) {
    launched++;
    List<String> command = new ArrayList<>(List.of(JAVA.toString(), "-jar", JAR.toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command)
        .directory(dir.toFile())
        .redirectOutput(output("stdout").toFile())
        .redirectError(output("stderr").toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("UNBROKEN_"));
    try {
      Process process = builder.start();
      processes.add(process);
      return process;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + command, e);
    }
  }

  private Path output(String stream) {
    return dir.resolve(stream + "-" + launched + ".log");
  }

  private List<String> lines(String stream) {
    try {
      return Files.readAllLines(output(stream), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private String stderr() {
    return String.join("\n", lines("stderr"));
  }

  private Path write(String yaml) {
    try {
      return Files.writeString(dir.resolve("unbroken.yaml"), yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Starts with one store section pointing nowhere; it must exit 1 with exactly one line, returned. */
  private String exitOneLineWith(String storeSection) {
    Path config = write(listeners() + storeSection + """

        routes:
          - prefix: /api
            upstream: http://127.0.0.1:18081
        """);

    Exited exited = run("--config", config.toString());

    assertThat(exited.code()).isEqualTo(1);
    assertThat(exited.stderr()).hasSize(1);
    return exited.stderr().get(0);
  }

}
