package io.unbroken.gateway;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.RawHttp;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The edge, over a raw socket so no client library tidies requests first. Requests that could be
 * framed two ways are answered 400 and their connection closed, and nothing reaches the upstream;
 * slow heads, idle connections and connections past the node's bound are closed.
 * Paths as routing and the upstream see them: dot segments removed before the route is chosen and
 * in what is forwarded, encoded dot segments refused, {@code %2F} refused unless the route allows
 * it, an absolute-form target forwarded by its path.
 */
class GatewayEdgeIT {

  private static final Pattern STATUS_LINE = Pattern.compile("(?m)^HTTP/1\\.[01] \\d{3} ");
  private static final String BODY_THEN_SMUGGLED = "0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n";

  private static final Duration HEAD_TIMEOUT = Duration.ofSeconds(1);
  private static final Duration IDLE = Duration.ofSeconds(2);
  private static final int MAX_CONNECTIONS = 6;

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenNode node;
  private static int port;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    UnbrokenConfig config = config("http://127.0.0.1:" + upstreamPort);
    port = config.server().port();
    node = Await.result(UnbrokenNode.start(config));
  }

  private static UnbrokenConfig config(String origin) {
    RouteConfig files = new RouteConfig("/files", URI.create(origin), Set.of(), Duration.ofMillis(500), 1024,
        RouteConfig.EventsMode.OFF, IdempotencyPolicy.DISABLED, Optional.empty(), Optional.empty(), Optional.empty(),
        true);
    UnbrokenConfig routed = TestNodes.embedded(List.of(
        TestNodes.route("/api/public", origin, Duration.ofMillis(500), 1024), files));
    UnbrokenConfig.Listener listener = routed.server();
    return new UnbrokenConfig(new UnbrokenConfig.Listener(listener.host(), listener.port(),
        listener.instances(), listener.drainTimeout(),
        new UnbrokenConfig.Limits(4096, 8192, 20, HEAD_TIMEOUT, IDLE, MAX_CONNECTIONS)),
        routed.admin(), routed.redis(), routed.postgres(), routed.node(), routed.cluster(), routed.demo(),
        routed.routes());
  }

  @AfterAll
  static void stop() {
    Await.result(node.close());
    Await.result(vertx.close());
  }

  @BeforeEach
  void forget() {
    upstream.clear();
  }

  @Test
  void aDotSegmentCannotClimbOutOfTheRoutesPrefix() throws IOException {
    assertThat(get("/api/public/../internal")).startsWith("HTTP/1.1 404").contains("no-route");
    assertThat(get("/api/public/a/../../../internal")).startsWith("HTTP/1.1 404");
    assertThat(upstream.received()).as("nothing forwarded").isEmpty();
  }

  @Test
  void whatIsForwardedIsTheNormalizedPathWithItsQuery() throws IOException {
    assertThat(get("/api/public/a/./b/../c?x=1&y=/../z")).startsWith("HTTP/1.1 200");
    assertThat(upstream.last().uri).isEqualTo("/api/public/a/c?x=1&y=/../z");
  }

  @Test
  void encodedDotSegmentsAreRefused() throws IOException {
    for (String path : List.of("/api/public/%2e%2e/internal", "/api/public/%2E./x", "/api/public/.%2e", "/api/public/%2e/x")) {
      assertThat(get(path)).as(path).startsWith("HTTP/1.1 400").contains("path-invalid");
    }
    assertThat(upstream.received()).isEmpty();
  }

  @Test
  void anEncodedSlashIsRefusedUnlessTheRouteAllowsIt() throws IOException {
    assertThat(get("/api/public/a%2Fb")).startsWith("HTTP/1.1 400").contains("allowEncodedSlash");
    assertThat(get("/files/a%2fb")).startsWith("HTTP/1.1 200");
    assertThat(upstream.last().uri).isEqualTo("/files/a%2fb");
  }

  @Test
  void anAbsoluteFormTargetIsForwardedByItsPath() throws IOException {
    assertThat(get("http://127.0.0.1:" + port + "/api/public/x/../y?q=1")).startsWith("HTTP/1.1 200");
    assertThat(upstream.last().uri).isEqualTo("/api/public/y?q=1");
  }

  @Test
  void requestsThatCouldBeReadTwoWaysAreRefusedAndTheirConnectionClosed() throws IOException {
    List<String> misframed = List.of(
        "POST /api/public/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        "POST /api/public/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + BODY_THEN_SMUGGLED,
        "POST /api/public/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"
            + BODY_THEN_SMUGGLED,
        "POST /api/public/a HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
        "GET /api/public/a HTTP/1.1\r\n\r\n",
        "GET /api/public/a HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n",
        "GET /api/public/a HTTP/1.1\r\nHost : gw\r\n\r\n",
        "GET /api/public/a HTTP/1.1\r\nHost: gw\r\nX-A: b\u0000c\r\n\r\n",
        "GET /api/public/a HTTP/1.1\nHost: gw\n\n",
        "POST /api/public/a HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            + BODY_THEN_SMUGGLED,
        "POST /api/public/a HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
            + BODY_THEN_SMUGGLED,
        "GET /api/public/a HTTP/1.1\r\nHost: gw\r\nX-Folded: a\r\n b\r\n\r\n",
        "GET /api/public/a HTTP/1.1\r\nHost: gw\r\nX-Folded: a\r\n\tTransfer-Encoding: chunked\r\n\r\n",
        "GET /api/public/a HTTP/1.1\r\n Host: hidden\r\nHost: gw\r\n\r\n",
        "POST /api/public/a HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    for (String request : misframed) {
      String answer = RawHttp.exchange(port, request);

      assertThat(answer).as(request).matches("(?s)HTTP/1\\.[01] 400 .*")
          .contains("application/problem+json").contains("request-misframed");
      assertThat(STATUS_LINE.matcher(answer).results().count()).as("one answer, then the connection closed: " + request)
          .isEqualTo(1);
    }
    assertThat(upstream.received()).as("nothing forwarded").isEmpty();
  }

  @Test
  void aRequestPipelinedBehindAMisframedOneIsNeverHandled() throws IOException {
    for (int i = 0; i < 20; i++) {
      String answer = RawHttp.exchange(port, "POST /api/public/a HTTP/1.1\r\nHost: gw\r\n"
          + "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
          + "GET /api/public/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n");

      assertThat(answer).startsWith("HTTP/1.1 400");
      assertThat(STATUS_LINE.matcher(answer).results().count()).as("one answer").isEqualTo(1);
    }
    assertThat(upstream.received()).as("nothing forwarded").isEmpty();
  }

  @Test
  void aRequestPipelinedBehindOneRefusedWithItsBodyUnreadIsNeverHandled() throws IOException {
    for (int i = 0; i < 50; i++) {
      String answer = RawHttp.exchange(port, "POST /nowhere HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
          + "\r\n3\r\nabc\r\n0\r\n\r\nGET /api/public/pipelined HTTP/1.1\r\nHost: gw\r\n\r\n");

      assertThat(answer).startsWith("HTTP/1.1 404");
      assertThat(STATUS_LINE.matcher(answer).results().count()).as("one answer").isEqualTo(1);
    }
    assertThat(upstream.received()).as("nothing forwarded").isEmpty();
  }

  @Test
  void aConnectionHeaderCannotTakeTheBodysLengthOffTheRequest() throws IOException {
    String answer = RawHttp.exchange(port, "POST /api/public/a HTTP/1.1\r\nHost: gw\r\n"
        + "Connection: Content-Length, close\r\nContent-Length: 3\r\n\r\nabc");

    assertThat(answer).startsWith("HTTP/1.1 200").endsWith("\r\n\r\nabc");
    assertThat(upstream.last().headers.get("Content-Length")).isEqualTo("3");
  }

  @Test
  void tooManyHeaderFieldsAre431AndAnIdleOrSlowConnectionIsClosed() throws IOException {
    StringBuilder headers = new StringBuilder();
    for (int i = 0; i < 20; i++) {
      headers.append("X-Field-").append(i).append(": v\r\n");
    }
    String answer = RawHttp.exchange(port, "GET /api/public/a HTTP/1.1\r\nHost: gw\r\n" + headers + "\r\n");
    assertThat(answer).startsWith("HTTP/1.1 431").contains("server.limits.maxHeaders");
    assertThat(upstream.received()).isEmpty();

    long started = System.nanoTime();
    assertThat(RawHttp.exchange(port, "GET /api/public/a HTTP/1.1\r\nHost: gw\r\n\r\n"))
        .as("answered, then the connection idles until the node closes it").startsWith("HTTP/1.1 200");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("closed by the idle timeout, not the test's")
        .isGreaterThanOrEqualTo(IDLE.minusMillis(100)).isLessThan(Duration.ofSeconds(5));

    for (String slowHead : List.of("", "GET /api/public/a HTTP/1.1\r\nHost: gw\r\n")) {
      started = System.nanoTime();
      assertThat(RawHttp.exchange(port, slowHead)).as("a head that never ends: closed, unanswered").isEmpty();
      assertThat(Duration.ofNanos(System.nanoTime() - started)).as("closed by the head timeout, before the idle one")
          .isGreaterThanOrEqualTo(HEAD_TIMEOUT.minusMillis(100)).isLessThan(IDLE);
    }
    assertThat(upstream.received()).hasSize(1);
  }

  @Test
  void theNodeHoldsAtMostMaxConnections() throws IOException {
    List<Socket> held = new ArrayList<>();
    try {
      // Connections of earlier tests may not all be counted out yet: fill up until one is refused.
      while (held.size() <= MAX_CONNECTIONS) {
        Socket socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(5_000);
        socket.getOutputStream().write("GET /api/public/a HTTP/1.1\r\nHost: gw\r\n\r\n".getBytes(US_ASCII));
        if (!answered(socket)) {
          socket.close();
          break;
        }
        held.add(socket);
      }
      assertThat(held).as("admitted before one was closed unanswered").hasSizeBetween(1, MAX_CONNECTIONS);
    } finally {
      for (Socket socket : held) {
        socket.close();
      }
    }
    Await.until("a connection is admitted again once the held ones closed", Duration.ofSeconds(5),
        () -> answersOk("/api/public/a"));
  }

  @Test
  void aWellFramedRequestPassesAndTooLongALineOrHeaderIsRefusedAsAProblem() throws IOException {
    assertThat(RawHttp.exchange(port, "POST /api/public/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n"
        + "Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")).startsWith("HTTP/1.1 200");
    assertThat(upstream.received()).hasSize(1);
    assertThat(RawHttp.get(port, "/api/" + "a".repeat(10_000))).startsWith("HTTP/1.0 414")
        .contains("application/problem+json").contains("server.limits.maxRequestLine");
    assertThat(RawHttp.exchange(port, "GET /api/public/a HTTP/1.1\r\nHost: gw\r\nX-A: " + "a".repeat(10_000) + "\r\n\r\n"))
        .startsWith("HTTP/1.1 431").contains("server.limits.maxHeaderSize");
  }

  /** Whether a request sent on {@code socket} gets an answer, rather than the connection closed or reset. */
  private static boolean answered(Socket socket) throws IOException {
    try {
      return socket.getInputStream().read() != -1;
    } catch (SocketException reset) {
      return false;
    }
  }

  private static boolean answersOk(String target) {
    try {
      return get(target).startsWith("HTTP/1.1 200");
    } catch (IOException refused) {
      return false;
    }
  }

  private static String get(String target) throws IOException {
    return RawHttp.get(port, target);
  }

}
