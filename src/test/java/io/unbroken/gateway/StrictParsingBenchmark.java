package io.unbroken.gateway;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.impl.VertxHttpRequestDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What the edge's strict parsing adds to a request, on one thread: a typical API request's head
 * decoded by Vert.x's own decoder ({@code lenientDecode}) and by {@link StrictRequestDecoder}
 * ({@code strictDecode}: the raw-head scan and the head timeout's timer), and the framing checks
 * every decoded request then passes ({@code framingChecks}). Run by
 * {@code loadtest/strict-parsing-bench.sh}, which sets the difference against a request's whole
 * cost through the gateway.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class StrictParsingBenchmark {

  private static final byte[] REQUEST = ("POST /api/payments/42/capture?expand=charges HTTP/1.1\r\n"
      + "Host: api.example.com\r\n"
      + "User-Agent: payments-client/4.2 (+https://example.com)\r\n"
      + "Accept: application/json\r\n"
      + "Accept-Encoding: gzip, deflate, br\r\n"
      + "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXN0b21lci00MiJ9.c2lnbmF0dXJl\r\n"
      + "Content-Type: application/json\r\n"
      + "Content-Length: 27\r\n"
      + "Idempotency-Key: \"9f1c2a8e-5b7d-4c3e-9a1f-0d2b3c4e5f60\"\r\n"
      + "X-Request-Deadline-Ms: 2500\r\n"
      + "Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
      + "Connection: keep-alive\r\n"
      + "\r\n"
      + "{\"amount\":1200,\"cur\":\"EUR\"}").getBytes(StandardCharsets.US_ASCII);

  private EmbeddedChannel lenient;
  private EmbeddedChannel strict;
  private MultiMap headers;

  @Setup
  public void setUp() {
    HttpServerOptions options = new HttpServerOptions();
    lenient = new EmbeddedChannel(new VertxHttpRequestDecoder(options));
    strict = new EmbeddedChannel(new StrictRequestDecoder(options, Duration.ofSeconds(30), () -> { }));
    strict.writeInbound(Unpooled.wrappedBuffer(REQUEST));
    // The same multimap the server hands to the framing checks.
    headers = (MultiMap) ((HttpRequest) strict.readInbound()).headers();
    drain(strict);
  }

  @TearDown
  public void tearDown() {
    lenient.finishAndReleaseAll();
    strict.finishAndReleaseAll();
  }

  @Benchmark
  public int lenientDecode() {
    return decode(lenient);
  }

  @Benchmark
  public int strictDecode() {
    return decode(strict);
  }

  @Benchmark
  public boolean framingChecks() {
    return Framing.problemWith(headers, HttpVersion.HTTP_1_1, 100, "1").isPresent();
  }

  private static int decode(EmbeddedChannel channel) {
    channel.writeInbound(Unpooled.wrappedBuffer(REQUEST));
    return drain(channel);
  }

  private static int drain(EmbeddedChannel channel) {
    int messages = 0;
    for (Object message = channel.readInbound(); message != null; message = channel.readInbound()) {
      ReferenceCountUtil.release(message);
      messages++;
    }
    return messages;
  }
}
