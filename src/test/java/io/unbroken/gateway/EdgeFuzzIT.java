package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.gateway.EdgeVectors.Gap;
import io.unbroken.gateway.EdgeVectors.Vector;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.Property;
import io.unbroken.testing.RawHttp;
import io.unbroken.testing.RawUpstream;
import io.unbroken.testing.StrictHttp;
import io.unbroken.testing.Strings;
import io.unbroken.testing.TestNodes;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The edge against inputs meant to confuse it: known smuggling and parser-confusion vectors, and
 * well-formed requests with bytes inserted, deleted or replaced where the framing is decided. The
 * node stands in front of {@link RawUpstream}, which frames what it receives strictly. What the
 * node may do follows from how the client's bytes frame under RFC 9112 ({@link StrictHttp}): it
 * forwards at most the requests they hold, in order, each well framed and with the node's own
 * X-Request-Id (a request without one was read by the upstream out of a body the node forwarded);
 * bytes that could be framed two ways get a 4xx or no answer, and nothing of them is forwarded; the
 * node never answers 5xx, and it answers a plain request after every input. The run logs a line
 * {@code edge fuzz: N inputs, M refused 4xx, K forwarded, ...}.
 */
class EdgeFuzzIT {

  private static final Logger log = LoggerFactory.getLogger(EdgeFuzzIT.class);
  // Short, so an input the node waits on for bytes that never come (an incomplete request) costs little.
  private static final Duration IDLE = Duration.ofMillis(300);
  private static final String SENTINEL_PATH = "/api/sentinel";
  /** Sent after an input whose bytes frame completely: its answer comes once the node has read past them. */
  private static final String SENTINEL = "GET " + SENTINEL_PATH + " HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
  /**
   * A first line whose version is neither HTTP/1.0 nor HTTP/1.1: Vert.x answers it 501 and closes the
   * connection before the node sees the request, so that 5xx is the HTTP library's, and nothing is forwarded.
   */
  private static final Pattern UNKNOWN_VERSION = Pattern.compile("\\A(?:\r\n)*\\S+ \\S+ (?!HTTP/1\\.[01]\r)");
  private static final Pattern STATUS_LINE = Pattern.compile("(?m)^HTTP/1\\.[01] (\\d{3}) ");
  private static final String FRAMING_BYTES = " \t\r\n:;,0123456789abcdefx+-\"\u0000\u000b";
  private static final List<String> EXTRA_HEADERS = List.of("Content-Length: 0", "Content-Length: 5",
      "Content-Length: 48", "Transfer-Encoding: chunked", "Transfer-Encoding: identity", "Host: other",
      "Connection: close", "Connection: Content-Length", "Expect: 100-continue", "X-Request-Deadline-Ms: 1000");
  private static final List<String> WELL_FORMED = List.of(
      "GET /api/a?x=1 HTTP/1.1\r\nHost: gw\r\nAccept: */*\r\nX-Trace: 1\r\n\r\n",
      "POST /api/a HTTP/1.1\r\nHost: gw\r\nContent-Type: text/plain\r\nContent-Length: "
          + EdgeVectors.BODY_THEN_SMUGGLED.length() + "\r\n\r\n" + EdgeVectors.BODY_THEN_SMUGGLED,
      "POST /api/b HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nX-Trace: 2\r\n\r\n"
          + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      "PUT /api/c HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n" + EdgeVectors.BODY_THEN_SMUGGLED,
      "GET /api/d HTTP/1.0\r\nHost: gw\r\nContent-Length: 3\r\n\r\nabc");

  private static RawUpstream upstream;
  private static UnbrokenNode node;
  private static int port;
  private static final AtomicInteger inputs = new AtomicInteger();
  private static final AtomicInteger refused = new AtomicInteger();
  private static final AtomicInteger forwarded = new AtomicInteger();

  @BeforeAll
  static void start() throws IOException {
    int upstreamPort = FreePorts.next();
    upstream = new RawUpstream(upstreamPort);
    UnbrokenConfig routed = TestNodes.embedded(List.of(
        TestNodes.route("/api", "http://127.0.0.1:" + upstreamPort, Duration.ofSeconds(2), 64 * 1024)));
    UnbrokenConfig.Listener listener = routed.server();
    UnbrokenConfig config = new UnbrokenConfig(new UnbrokenConfig.Listener(listener.host(), listener.port(),
        listener.instances(), listener.drainTimeout(), new UnbrokenConfig.Limits(4096, 8192, 20, IDLE, IDLE,
            UnbrokenConfig.Limits.DEFAULTS.maxConnections())),
        routed.admin(), routed.redis(), routed.postgres(), routed.node(), routed.cluster(), routed.demo(),
        routed.routes());
    port = config.server().port();
    node = Await.result(UnbrokenNode.start(config));
  }

  @AfterAll
  static void stop() throws IOException {
    log.info("edge fuzz: {} inputs, {} refused 4xx, {} forwarded, {} neither (an incomplete request, or closed)",
        inputs, refused, forwarded, inputs.get() - refused.get() - forwarded.get());
    Await.result(node.close());
    upstream.close();
  }

  @Test
  void knownVectorsAreRefusedOrForwardedAsTheyFrame() {
    assertThat(violations(Gap.NONE)).isEmpty();
  }

  @Test
  @Tag("strict-decoder")
  void contentLengthWithChunkedIsRefusedAndNothingForwarded() {
    assertThat(violations(Gap.CONTENT_LENGTH_WITH_CHUNKED)).isEmpty();
  }

  @Test
  @Tag("strict-decoder")
  void obsFoldIsRefusedAndNothingForwarded() {
    assertThat(violations(Gap.OBS_FOLD)).isEmpty();
  }

  @Test
  @Tag("strict-decoder")
  void whitespaceAroundAChunkSizeIsRefusedAndNothingForwarded() {
    assertThat(violations(Gap.CHUNK_SIZE_WHITESPACE)).isEmpty();
  }

  @Test
  @Tag("strict-decoder")
  void repeatedContentLengthInHttp10IsRefusedAndNothingForwarded() {
    assertThat(violations(Gap.CONTENT_LENGTH_REPEATED_IN_HTTP_1_0)).isEmpty();
  }

  @Test
  @Tag("strict-decoder")
  void aHeaderNameOneByteOffContentLengthIsNotReadAsIt() {
    assertThat(violations(Gap.HEADER_NAME_MISREAD)).isEmpty();
  }

  /** Well-formed requests after one to three edits where framing is decided. */
  @Test
  void editedRequestsAreRefusedOrForwardedAsTheyFrame() {
    Property.forAll(EdgeFuzzIT::edited).shownAs(Strings::escaped).check("edge: edited well-formed requests", 400,
        input -> {
          List<String> violations = violations(input);
          if (!violations.isEmpty()) {
            throw new AssertionError(String.join("; ", violations));
          }
        });
  }

  private static List<String> violations(Gap gap) {
    List<Vector> vectors = EdgeVectors.all().stream().filter(vector -> vector.gap() == gap).toList();
    List<String> all = new ArrayList<>();
    for (Vector vector : vectors) {
      violations(vector.bytes()).forEach(violation -> all.add(vector.name() + ": " + violation));
    }
    log.info("edge fuzz: {} known vectors ({}) tried, {} violations", vectors.size(), gap, all.size());
    return all;
  }

  /** Sends {@code input} on a connection of its own, then checks what the node and the upstream did with it. */
  private static List<String> violations(String input) {
    StrictHttp.Reading reading = StrictHttp.readAll(bytes(input));
    Await.until("the upstream has read what the last input sent", Duration.ofSeconds(5), upstream::quiet);
    upstream.clear();
    List<Integer> statuses = statuses(exchange(input, reading.ending()));
    Await.until("the upstream has read all it was sent", Duration.ofSeconds(5), upstream::quiet);
    List<StrictHttp.Request> received = upstream.received().stream()
        .filter(request -> !request.target().endsWith(SENTINEL_PATH)).toList();
    tallyOutcome(statuses, received);

    List<String> violations = new ArrayList<>();
    upstream.misframed().forEach(why -> violations.add("the upstream could not frame what the node sent: " + why));
    for (StrictHttp.Request request : received) {
      if (request.all("X-Request-Id").size() != 1) {
        violations.add(request.method() + " " + request.target() + " reached the upstream without the node's"
            + " X-Request-Id: it was read out of a body the node forwarded");
      }
    }
    if (!inOrderWithin(received, reading.requests())) {
      violations.add(received.size() + " requests reached the upstream (" + describe(received) + "), but the bytes"
          + " frame " + reading.requests().size() + " (" + describe(reading.requests()) + ")"
          + (reading.ending() == StrictHttp.Ending.MISFRAMED ? ", then one that could be framed two ways: "
          + reading.why() : ""));
    }
    boolean unknownVersion = UNKNOWN_VERSION.matcher(input).find();
    statuses.stream().filter(status -> status >= 500 && !(status == 501 && unknownVersion))
        .forEach(status -> violations.add("the node answered " + status));
    if (reading.requests().isEmpty() && reading.ending() == StrictHttp.Ending.MISFRAMED && !statuses.isEmpty()
        && statuses.get(0) < 400) {
      violations.add("bytes that could be framed two ways (" + reading.why() + ") were answered " + statuses);
    }
    if (!answersAPlainRequest()) {
      violations.add("the node did not answer a plain request afterwards");
    }
    return violations;
  }

  /**
   * Writes {@code input}, and after bytes that frame completely the sentinel, then reads until the
   * node closes the connection: it does after the sentinel, after refusing misframed bytes, and
   * after {@link #IDLE} when it waits for bytes that never come.
   */
  private static String exchange(String input, StrictHttp.Ending ending) {
    ByteArrayOutputStream answer = new ByteArrayOutputStream();
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(5_000);
      socket.getOutputStream().write(bytes(ending == StrictHttp.Ending.COMPLETE ? input + SENTINEL : input));
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
        answer.write(buffer, 0, n);
      }
    } catch (SocketTimeoutException hung) {
      throw new AssertionError("the node neither answered nor closed the connection within 5 s for "
          + Strings.escaped(input), hung);
    } catch (IOException reset) {
      // Closed with bytes of ours unread: the kernel resets the connection. What came before counts.
    }
    return answer.toString(StandardCharsets.ISO_8859_1);
  }

  private static boolean answersAPlainRequest() {
    try {
      return RawHttp.get(port, "/api/alive").startsWith("HTTP/1.1 200");
    } catch (IOException e) {
      return false;
    }
  }

  private static List<Integer> statuses(String answers) {
    List<Integer> statuses = new ArrayList<>();
    Matcher statusLine = STATUS_LINE.matcher(answers);
    while (statusLine.find()) {
      statuses.add(Integer.parseInt(statusLine.group(1)));
    }
    return statuses;
  }

  /** True if each forwarded request is one the bytes frame (same method and body), in their order. */
  private static boolean inOrderWithin(List<StrictHttp.Request> forwarded, List<StrictHttp.Request> framed) {
    int next = 0;
    for (StrictHttp.Request request : forwarded) {
      while (next < framed.size() && !sameRequest(request, framed.get(next))) {
        next++;
      }
      if (next == framed.size()) {
        return false;
      }
      next++;
    }
    return true;
  }

  private static boolean sameRequest(StrictHttp.Request forwarded, StrictHttp.Request framed) {
    return forwarded.method().equals(framed.method()) && Arrays.equals(forwarded.body(), framed.body());
  }

  private static String describe(List<StrictHttp.Request> requests) {
    return String.join(", ", requests.stream().map(r -> r.method() + " " + r.target()).toList());
  }

  private static void tallyOutcome(List<Integer> statuses, List<StrictHttp.Request> received) {
    inputs.incrementAndGet();
    if (!received.isEmpty()) {
      forwarded.incrementAndGet();
    } else if (!statuses.isEmpty() && statuses.get(0) >= 400 && statuses.get(0) < 500) {
      refused.incrementAndGet();
    }
  }


  /** A well-formed request after one to three edits, most of them in its head. */
  private static String edited(SplittableRandom random) {
    StringBuilder request = new StringBuilder(WELL_FORMED.get(random.nextInt(WELL_FORMED.size())));
    int edits = 1 + random.nextInt(3);
    for (int i = 0; i < edits; i++) {
      edit(request, random);
    }
    return request.toString();
  }

  private static void edit(StringBuilder request, SplittableRandom random) {
    int headEnd = Math.max(1, request.indexOf("\r\n\r\n") + 2);
    int at = random.nextInt(headEnd);
    char framing = FRAMING_BYTES.charAt(random.nextInt(FRAMING_BYTES.length()));
    int lineStart = request.lastIndexOf("\r\n", Math.max(0, at - 1)) + 2;
    int lineEnd = request.indexOf("\r\n", lineStart);
    switch (random.nextInt(8)) {
      case 0 -> request.insert(at, framing);
      case 1 -> request.deleteCharAt(Math.min(at, request.length() - 1));
      case 2 -> request.setCharAt(Math.min(at, request.length() - 1), framing);
      case 3 -> {
        if (lineStart > 1 && lineEnd > lineStart) {
          request.insert(lineStart, request.substring(lineStart, lineEnd + 2));
        }
      }
      case 4 -> {
        int colon = request.indexOf(":", lineStart);
        if (lineStart > 1 && colon > lineStart && colon < lineEnd) {
          String name = request.substring(lineStart, colon);
          request.replace(lineStart, colon,
              random.nextBoolean() ? name.toUpperCase(Locale.ROOT) : name.toLowerCase(Locale.ROOT));
        }
      }
      case 5 -> {
        int crlf = request.indexOf("\r\n", at);
        if (crlf >= 0 && crlf < headEnd) {
          request.replace(crlf, crlf + 2, List.of("\n", "\r", "\r\n\r\n", " \r\n", "\r\n ").get(random.nextInt(5)));
        }
      }
      case 6 -> request.insert(request.indexOf("\r\n") + 2,
          EXTRA_HEADERS.get(random.nextInt(EXTRA_HEADERS.size())) + "\r\n");
      default -> {
        Matcher length = Pattern.compile("Content-Length: (\\d+)").matcher(request);
        if (length.find()) {
          request.replace(length.start(1), length.end(1), Integer.toString(random.nextInt(60)));
        }
      }
    }
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.ISO_8859_1);
  }
}
