package io.unbroken.gateway;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.WriteStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Large bodies stream through the gateway in bounded memory. The gateway runs as its own process
 * with a 64 MiB heap and 64 MiB of direct memory, so a gateway that buffered a 200 MiB body could
 * not survive it; its peak resident memory ({@code VmHWM}) may grow by less than 40 MiB over all
 * the 200 MiB transfers. The baseline is taken after 20 MiB each way, once the JIT, the buffer
 * pools and the heap have reached their working size. Upstream and client check every byte against
 * {@link TestUpstream#pattern} as it passes and keep none of them.
 */
class GatewayStreamingIT {

  private static final Logger log = LoggerFactory.getLogger(GatewayStreamingIT.class);

  private static final long MiB = 1024 * 1024;
  private static final long LARGE = 200 * MiB;
  private static final long WARM_UP = 20 * MiB;
  private static final long ALLOWED_GROWTH_KIB = 40 * 1024;
  private static final int CHUNK = 64 * 1024;
  private static final Duration TRANSFER_TIMEOUT = Duration.ofSeconds(30);
  private static final Path JAR = Path.of(System.getProperty("unbroken.jar", "target/unbroken.jar"));
  private static final Path JAVA = Path.of(System.getProperty("java.home"), "bin", "java");

  @TempDir
  static Path dir;

  private static Vertx vertx;
  private static Context clientContext;
  private static HttpClientAgent client;
  private static Process gateway;
  private static int gatewayPort;
  private static int adminPort;
  private static long warmPeakKib;

  /** How a body is framed on the wire. */
  enum Framing {
    CONTENT_LENGTH, CHUNKED
  }

  /** A body as one side received it: framing, length, and the first offset off the pattern (-1: none). */
  record Received(String framing, long bytes, long firstMismatch) {

    static Received intact(Framing framing, long bytes) {
      return new Received(framing.name(), bytes, -1);
    }
  }

  @BeforeAll
  static void startGatewayProcess() throws IOException {
    vertx = Vertx.vertx();
    clientContext = vertx.getOrCreateContext();
    int upstreamPort = FreePorts.next();
    Await.result(vertx.createHttpServer().requestHandler(GatewayStreamingIT::serve).listen(upstreamPort, "127.0.0.1"));
    gatewayPort = FreePorts.next();
    adminPort = FreePorts.next();
    client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(gatewayPort));
    gateway = launch(upstreamPort);
    Await.until("the gateway answers /health/live", Duration.ofSeconds(30), () -> {
      assertThat(gateway.isAlive()).as("the gateway process is running; its output: %s", output()).isTrue();
      return isLive();
    });

    for (Framing framing : Framing.values()) {
      assertThat(upload(WARM_UP, framing)).isEqualTo(Received.intact(framing, WARM_UP));
      assertThat(download(WARM_UP, framing)).isEqualTo(Received.intact(framing, WARM_UP));
    }
    warmPeakKib = peakResidentKib();
    log.info("gateway VmHWM after the {} MiB warm-up: {} KiB", WARM_UP / MiB, warmPeakKib);
  }

  @AfterAll
  static void stopGatewayProcess() throws InterruptedException {
    if (gateway != null) {
      gateway.destroy();
      if (!gateway.waitFor(15, SECONDS)) {
        gateway.destroyForcibly().waitFor(15, SECONDS);
      }
    }
    if (vertx != null) {
      Await.result(vertx.close());
    }
  }

  @ParameterizedTest
  @EnumSource(Framing.class)
  void a200MiBUploadArrivesIntactInBoundedMemory(Framing framing) {
    Received received = upload(LARGE, framing);

    assertThat(received).isEqualTo(Received.intact(framing, LARGE));
    assertGatewayLiveWithBoundedPeak("a 200 MiB upload (" + framing + ")");
  }

  @ParameterizedTest
  @EnumSource(Framing.class)
  void a200MiBDownloadArrivesIntactInBoundedMemory(Framing framing) {
    Received received = download(LARGE, framing);

    assertThat(received).isEqualTo(Received.intact(framing, LARGE));
    assertGatewayLiveWithBoundedPeak("a 200 MiB download (" + framing + ")");
  }

  private static void assertGatewayLiveWithBoundedPeak(String after) {
    long peakKib = peakResidentKib();
    log.info("gateway VmHWM after {}: {} KiB ({} KiB over the warm-up)", after, peakKib, peakKib - warmPeakKib);
    assertThat(gateway.isAlive()).as("the gateway survives %s; its output: %s", after, output()).isTrue();
    assertThat(isLive()).as("/health/live answers after %s", after).isTrue();
    assertThat(peakKib - warmPeakKib)
        .as("growth of the gateway's peak resident memory (KiB) from %d KiB after the warm-up", warmPeakKib)
        .isLessThan(ALLOWED_GROWTH_KIB);
  }

  /** The upstream: {@code PUT /upload} counts and checks the body; {@code GET /download} sends a pattern body. */
  private static void serve(HttpServerRequest request) {
    if (request.method() == HttpMethod.PUT && request.path().equals("/upload")) {
      PatternCheck check = new PatternCheck();
      request.handler(check::accept);
      request.endHandler(end -> request.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .end(new JsonObject().put("framing", framingOf(request.headers()))
              .put("bytes", check.bytes).put("firstMismatch", check.firstMismatch).encode()));
    } else if (request.method() == HttpMethod.GET && request.path().equals("/download")) {
      long size = Long.parseLong(request.getParam("size"));
      var response = request.response();
      if (Framing.valueOf(request.getParam("framing")) == Framing.CHUNKED) {
        response.setChunked(true);
      } else {
        response.putHeader(HttpHeaders.CONTENT_LENGTH, Long.toString(size));
      }
      writePattern(response, size).onSuccess(v -> response.end());
    } else {
      request.response().setStatusCode(404).end();
    }
  }

  private static Received upload(long size, Framing framing) {
    return onClientContext(() -> client.request(HttpMethod.PUT, "/upload").compose(request -> {
      if (framing == Framing.CHUNKED) {
        request.setChunked(true);
      } else {
        request.putHeader(HttpHeaders.CONTENT_LENGTH, Long.toString(size));
      }
      writePattern(request, size).onSuccess(v -> request.end());
      return request.response();
    }).compose(response -> {
      assertThat(response.statusCode()).isEqualTo(200);
      return response.body();
    }).map(body -> {
      JsonObject counted = body.toJsonObject();
      return new Received(counted.getString("framing"), counted.getLong("bytes"), counted.getLong("firstMismatch"));
    }));
  }

  private static Received download(long size, Framing framing) {
    String uri = "/download?size=" + size + "&framing=" + framing;
    return onClientContext(() -> client.request(HttpMethod.GET, uri).compose(HttpClientRequest::send)
        .compose(response -> {
          assertThat(response.statusCode()).isEqualTo(200);
          String received = framingOf(response.headers());
          PatternCheck check = new PatternCheck();
          response.handler(check::accept);
          return response.end().map(end -> new Received(received, check.bytes, check.firstMismatch));
        }));
  }

  /** Writes {@code size} bytes of the pattern in 64 KiB chunks, never more than the stream accepts. */
  private static Future<Void> writePattern(WriteStream<Buffer> out, long size) {
    Promise<Void> written = Promise.promise();
    new Object() {
      long offset;

      void writeWhileAccepted() {
        while (offset < size && !out.writeQueueFull()) {
          int length = (int) Math.min(CHUNK, size - offset);
          out.write(TestUpstream.pattern((int) offset, length));
          offset += length;
        }
        if (offset < size) {
          out.drainHandler(drained -> writeWhileAccepted());
        } else {
          written.complete();
        }
      }
    }.writeWhileAccepted();
    return written.future();
  }

  /** The framing the headers announce: a {@link Framing} name, or what is wrong with them. */
  private static String framingOf(MultiMap headers) {
    boolean chunked = "chunked".equalsIgnoreCase(headers.get(HttpHeaders.TRANSFER_ENCODING));
    boolean length = headers.contains(HttpHeaders.CONTENT_LENGTH);
    if (chunked == length) {
      return chunked ? "both Content-Length and chunked" : "neither Content-Length nor chunked";
    }
    return chunked ? Framing.CHUNKED.name() : Framing.CONTENT_LENGTH.name();
  }

  /** Counts bytes and compares each with the pattern at its offset, keeping none of them. */
  private static final class PatternCheck {
    long bytes;
    long firstMismatch = -1;

    void accept(Buffer chunk) {
      for (int i = 0; i < chunk.length(); i++) {
        if (firstMismatch < 0 && chunk.getByte(i) != (byte) ((bytes + i) * 31 + 7)) {
          firstMismatch = bytes + i;
        }
      }
      bytes += chunk.length();
    }
  }

  /** A probe passes on any 2xx: the liveness endpoint has no checks and answers 204. */
  private static boolean isLive() {
    int status = onClientContext(() -> client.request(new RequestOptions().setPort(adminPort)
            .setURI("/health/live").setConnectTimeout(1_000).setIdleTimeout(2_000))
        .compose(HttpClientRequest::send)
        .compose(response -> response.body().map(body -> response.statusCode()))
        .otherwise(-1));
    return status >= 200 && status < 300;
  }

  /** The high-water mark of the gateway's resident memory, from {@code /proc/<pid>/status}. */
  private static long peakResidentKib() {
    Path status = Path.of("/proc", Long.toString(gateway.pid()), "status");
    try {
      return Files.readAllLines(status).stream()
          .filter(line -> line.startsWith("VmHWM:"))
          .map(line -> Long.parseLong(line.replaceAll("[^0-9]", "")))
          .findFirst()
          .orElseThrow(() -> new AssertionError("no VmHWM in " + status));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + status, e);
    }
  }

  private static Process launch(int upstreamPort) throws IOException {
    Path config = Files.writeString(dir.resolve("unbroken.yaml"), """
        server: { host: 127.0.0.1, port: %d }
        admin: { host: 127.0.0.1, port: %d }
        routes:
          - prefix: /
            upstream: http://127.0.0.1:%d
            timeout: 120s
            maxBody: 1GiB
            events: off
        """.formatted(gatewayPort, adminPort, upstreamPort));
    List<String> command = List.of(JAVA.toString(), "-Xmx64m", "-XX:MaxDirectMemorySize=64m",
        "-jar", JAR.toString(), "--config", config.toString());
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("output.log").toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("UNBROKEN_"));
    return builder.start();
  }

  private static String output() {
    try {
      return Files.readString(dir.resolve("output.log"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /**
   * Runs client calls on one event-loop context, as a verticle would: driven from the test thread,
   * an answer could go unnoticed.
   */
  private static <T> T onClientContext(Supplier<Future<T>> call) {
    Promise<T> done = Promise.promise();
    clientContext.runOnContext(v -> call.get().onComplete(done));
    return Await.result(done.future(), TRANSFER_TIMEOUT);
  }
}
