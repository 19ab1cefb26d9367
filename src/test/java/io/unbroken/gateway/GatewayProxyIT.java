package io.unbroken.gateway;

import static io.unbroken.testing.TestNodes.route;
import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The reverse proxy end to end: a real gateway node between a real client and a real upstream. */
class GatewayProxyIT {

  private static final long MiB = 1024 * 1024;

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenNode node;
  private static HttpClientAgent client;
  private static int upstreamPort;
  private static int gatewayPort;
  private static Context clientContext;

  /** One answer as the client saw it. */
  record Answer(int status, MultiMap headers, Buffer body) {
    JsonObject problem() {
      assertThat(headers.get("Content-Type")).isEqualTo("application/problem+json");
      return body.toJsonObject();
    }
  }

  // The /quiet route's idleTimeout.
  private static final Duration QUIET_LIMIT = Duration.ofMillis(300);

  @BeforeAll
  static void startGateway() {
    vertx = Vertx.vertx();
    clientContext = vertx.getOrCreateContext();
    upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    String up = "http://127.0.0.1:" + upstreamPort;
    UnbrokenConfig config = TestNodes.embedded(List.of(
        route("/api", up, Duration.ofSeconds(5), MiB),
        route("/readonly", up, Duration.ofSeconds(5), MiB, "GET", "HEAD"),
        route("/slow", up, Duration.ofMillis(300), MiB),
        new RouteConfig("/quiet", URI.create(up), Set.of(), Duration.ofSeconds(5), MiB, EventsMode.SYNC,
            IdempotencyPolicy.DISABLED, Optional.empty(), Optional.of(QUIET_LIMIT)),
        route("/small", up, Duration.ofSeconds(5), 1024),
        route("/dead", "http://127.0.0.1:" + FreePorts.next(), Duration.ofSeconds(5), MiB)));
    node = Await.result(UnbrokenNode.start(config));
    gatewayPort = config.server().port();
    client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1")
        .setDefaultPort(gatewayPort), new PoolOptions().setHttp1MaxSize(64));
  }

  @AfterAll
  static void stopGateway() {
    Await.result(node.close());
    Await.result(vertx.close());
  }

  @BeforeEach
  void forgetRequests() {
    upstream.clear();
  }

  @ParameterizedTest
  @ValueSource(strings = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
  void everyMethodIsForwarded(String method) {
    Answer answer = call(HttpMethod.valueOf(method), "/api/items/7", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.headers().get("Echo-Method")).isEqualTo(method);
    assertThat(upstream.last().method).isEqualTo(method);
  }

  @Test
  void headIsForwardedAndItsContentLengthKeptWithoutABody() {
    upstream.on("/api/head", request -> request.response().putHeader("Content-Length", "1234").end());

    Answer answer = call(HttpMethod.HEAD, "/api/head", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.headers().get("Content-Length")).isEqualTo("1234");
    assertThat(answer.body().length()).isZero();
  }

  @Test
  void queryStringsArriveExactlyAsSent() {
    String uri = "/api/search?q=a%20b&x=1&x=2&empty=&utf=%C3%A9";

    Answer answer = call(HttpMethod.GET, uri, MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.headers().get("Echo-Uri")).isEqualTo(uri);
  }

  @Test
  void fixedLengthBinaryBodiesPassUnchangedBothWays() {
    Buffer body = randomBytes(300_000);

    Answer answer = call(HttpMethod.POST, "/api/upload", MultiMap.caseInsensitiveMultiMap(), body);

    assertThat(answer.body()).isEqualTo(body);
    assertThat(upstream.last().headers.get("Content-Length")).isEqualTo("300000");
    assertThat(upstream.last().headers.get("Transfer-Encoding")).isNull();
    assertThat(answer.headers().get("Content-Length")).isEqualTo("300000");
  }

  @Test
  void chunkedBodiesStayChunkedBothWays() {
    upstream.on("/api/chunks", request -> request.body().onSuccess(body -> {
      var response = request.response().setChunked(true);
      response.write(body.getBuffer(0, 10));
      response.write(body.getBuffer(10, body.length()));
      response.end();
    }));
    Buffer body = randomBytes(70_000);

    Answer answer = onClientContext(() -> client.request(HttpMethod.POST, "/api/chunks").compose(request -> {
      request.setChunked(true);
      request.write(body.getBuffer(0, 1000));
      request.write(body.getBuffer(1000, body.length()));
      request.end();
      return request.response().compose(response -> response.body()
          .map(b -> new Answer(response.statusCode(), response.headers(), b)));
    }));

    assertThat(answer.body()).isEqualTo(body);
    assertThat(upstream.last().headers.get("Transfer-Encoding")).isEqualToIgnoringCase("chunked");
    assertThat(answer.headers().get("Transfer-Encoding")).isEqualToIgnoringCase("chunked");
  }

  @Test
  void expectContinueIsAnsweredByTheGatewayAndTheBodyForwarded() {
    Buffer body = Buffer.buffer("after continue");
    Promise<Void> continued = Promise.promise();

    Answer answer = onClientContext(() -> client.request(HttpMethod.POST, "/api/continue").compose(request -> {
      request.putHeader("Expect", "100-continue").putHeader("Content-Length", Integer.toString(body.length()));
      request.continueHandler(v -> {
        continued.tryComplete();
        request.end(body);
      });
      request.sendHead();
      return request.response().compose(response -> response.body()
          .map(b -> new Answer(response.statusCode(), response.headers(), b)));
    }));

    assertThat(continued.future().succeeded()).isTrue();
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body().toString()).isEqualTo("after continue");
    assertThat(upstream.last().headers.get("Expect")).isNull();
  }

  @Test
  void noContentAndNotModifiedCarryNoBody() {
    upstream.on("/api/empty", request -> request.response().setStatusCode(204).end());
    upstream.on("/api/cached", request -> request.response().setStatusCode(304).putHeader("ETag", "\"v1\"").end());

    Answer noContent = call(HttpMethod.DELETE, "/api/empty", MultiMap.caseInsensitiveMultiMap(), null);
    Answer notModified = call(HttpMethod.GET, "/api/cached",
        MultiMap.caseInsensitiveMultiMap().add("If-None-Match", "\"v1\""), null);

    assertThat(noContent.status()).isEqualTo(204);
    assertThat(noContent.body().length()).isZero();
    assertThat(noContent.headers().get("Transfer-Encoding")).isNull();
    assertThat(notModified.status()).isEqualTo(304);
    assertThat(notModified.headers().get("ETag")).isEqualTo("\"v1\"");
    assertThat(notModified.body().length()).isZero();
    assertThat(upstream.last().headers.get("If-None-Match")).isEqualTo("\"v1\"");
  }

  @Test
  void upstreamServerErrorsPassThroughUntouched() {
    upstream.on("/api/busy", request -> request.response().setStatusCode(503).setStatusMessage("Busy Here")
        .putHeader("Retry-After", "7").putHeader("Content-Type", "text/plain").end("come back later"));

    Answer answer = call(HttpMethod.POST, "/api/busy", MultiMap.caseInsensitiveMultiMap(), Buffer.buffer("x"));

    assertThat(answer.status()).isEqualTo(503);
    assertThat(answer.headers().get("Retry-After")).isEqualTo("7");
    assertThat(answer.headers().get("Content-Type")).isEqualTo("text/plain");
    assertThat(answer.body().toString()).isEqualTo("come back later");
  }

  @Test
  void refusedUpstreamIsA502Problem() {
    Answer answer = call(HttpMethod.GET, "/dead/x", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(502);
    JsonObject problem = answer.problem();
    assertThat(problem.getString("type")).isEqualTo("urn:unbroken:problem:upstream-unreachable");
    assertThat(problem.getInteger("status")).isEqualTo(502);
    assertThat(problem.getString("requestId")).isEqualTo(answer.headers().get("X-Request-Id"));
  }

  @Test
  void upstreamThatDropsTheConnectionIsA502Problem() {
    upstream.on("/api/drop", request -> request.connection().close());

    Answer answer = call(HttpMethod.GET, "/api/drop", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(502);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:upstream-failed");
  }

  @Test
  void routeTimeoutIsA504AndResetsTheUpstreamCall() {
    upstream.on("/slow", request -> { /* never answers */ });

    Answer answer = call(HttpMethod.GET, "/slow/report", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(504);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:upstream-timeout");
    Await.until("the upstream sees its connection reset", Duration.ofSeconds(5),
        () -> upstream.received().size() == 1 && upstream.last().closedBeforeAnswer);
  }

  @Test
  void aTimeoutAfterTheUpstreamsHeadersIsACleanProblem() {
    upstream.on("/slow/headers-then-silence", request -> request.response().setStatusMessage("Fine")
        .putHeader("Content-Length", "5000").putHeader("Set-Cookie", "session=abc").putHeader("Content-Encoding", "gzip")
        .write(Buffer.buffer("par")));

    Answer answer = call(oneShotClient(), HttpMethod.GET, "/slow/headers-then-silence",
        MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(504);
    assertThat(answer.headers().get("Content-Length")).isEqualTo(Integer.toString(answer.body().length()));
    assertThat(answer.headers().get("Set-Cookie")).isNull();
    assertThat(answer.headers().get("Content-Encoding")).isNull();
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:upstream-timeout");
  }

  @Test
  void aClientsShorterDeadlineEndsTheExchangeAndTheUpstreamLearnsIt() {
    upstream.on("/api/never", request -> { /* never answers */ });
    long started = System.nanoTime();

    Answer answer = call(HttpMethod.GET, "/api/never", MultiMap.caseInsensitiveMultiMap().add("X-Request-Deadline-Ms",
        "200"), null);

    assertThat(answer.status()).isEqualTo(504);
    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the client's 200 ms, not the route's 5 s")
        .isLessThan(Duration.ofMillis(4_000));
    assertThat(answer.problem().getString("detail")).contains("deadline of 200 ms");
    assertThat(Long.parseLong(upstream.last().headers.get("X-Request-Deadline-Ms"))).isBetween(0L, 200L);
    Await.until("the upstream sees its connection reset", Duration.ofSeconds(5),
        () -> upstream.last().closedBeforeAnswer);
  }

  @ParameterizedTest
  @ValueSource(strings = {"-1", "soon", "1.5", "", "12345678901"})
  void aMalformedClientDeadlineIsA400AndNothingIsForwarded(String deadline) {
    Answer answer = call(HttpMethod.GET, "/api/items/1", MultiMap.caseInsensitiveMultiMap().add("X-Request-Deadline-Ms",
        deadline), null);

    assertThat(answer.status()).isEqualTo(400);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:deadline-invalid");
    assertThat(upstream.received()).isEmpty();
  }

  @Test
  void anUpstreamSilentForTheIdleTimeoutIsTakenForHungLongBeforeTheRouteTimeout() {
    upstream.on("/quiet/never", request -> { /* sends nothing at all */ });
    long started = System.nanoTime();

    Answer answer = call(HttpMethod.GET, "/quiet/never", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(504);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:upstream-silent");
    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the idle timeout, not the route's 5 s")
        .isLessThan(Duration.ofMillis(4_000));
    Await.until("the upstream sees its connection reset", Duration.ofSeconds(5),
        () -> upstream.last().closedBeforeAnswer);
    List<RecordedEvent> events = Await.result(node.eventStore().readStream(
        RequestLifecycle.streamOf(answer.headers().get("X-Request-Id")), 1, Instant.MAX));
    RecordedEvent last = events.get(events.size() - 1);
    assertThat(last.type()).isEqualTo(RequestLifecycle.FAILED);
    assertThat(last.data().getString("reason")).isEqualTo("upstream-silent");
  }

  @Test
  void anUpstreamThatFallsSilentMidBodyIsCutOff() {
    upstream.on("/quiet/stalls", request -> request.response().setChunked(true).write("first part"));

    HttpClient via = oneShotClient();
    AtomicInteger status = new AtomicInteger();
    Promise<Buffer> body = Promise.promise();
    clientContext.runOnContext(v -> via.request(HttpMethod.GET, "/quiet/stalls")
        .compose(HttpClientRequest::send)
        .compose(response -> {
          status.set(response.statusCode());
          return response.body();
        })
        .onComplete(body));

    Await.failure(body.future());
    assertThat(status.get()).as("the head had gone out: the body is cut off, so the client knows").isEqualTo(200);
    Await.until("the upstream sees its connection reset", Duration.ofSeconds(5),
        () -> upstream.last().closedBeforeAnswer);
  }

  @Test
  void anUpstreamThatKeepsTalkingIsNotSilentHoweverLongItTakes() {
    upstream.on("/quiet/trickle", request -> {
      request.response().setChunked(true);
      AtomicInteger sent = new AtomicInteger();
      vertx.setPeriodic(QUIET_LIMIT.toMillis() / 3, timer -> {
        if (sent.incrementAndGet() <= 8) {
          request.response().write("chunk " + sent.get() + ";");
        } else {
          vertx.cancelTimer(timer);
          request.response().end("done");
        }
      });
    });

    Answer answer = call(HttpMethod.GET, "/quiet/trickle", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body().toString()).startsWith("chunk 1;").endsWith("chunk 8;done");
  }

  @Test
  void theUpstreamLearnsHowLongTheClientWillWait() {
    call(HttpMethod.GET, "/api/deadline", MultiMap.caseInsensitiveMultiMap().add("X-Request-Deadline-Ms", "86400000"),
        null);

    long deadline = Long.parseLong(upstream.last().headers.get("X-Request-Deadline-Ms"));
    assertThat(deadline).isPositive().isLessThanOrEqualTo(5_000);
  }

  @Test
  void anUpstreamThatEchoesTheRequestIdDoesNotDoubleIt() {
    upstream.on("/api/echo-id", request -> request.response()
        .putHeader("X-Request-Id", request.getHeader("X-Request-Id")).end("ok"));

    Answer answer = call(HttpMethod.GET, "/api/echo-id", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.headers().getAll("X-Request-Id")).hasSize(1);
  }

  @Test
  void declaredBodyOverTheLimitIsA413AndNeverForwarded() {
    Answer answer = call(oneShotClient(), HttpMethod.POST, "/small/x", MultiMap.caseInsensitiveMultiMap(),
        randomBytes(2048));

    assertThat(answer.status()).isEqualTo(413);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:body-too-large");
    assertThat(upstream.received()).isEmpty();
  }

  @Test
  void chunkedBodyGrowingOverTheLimitIsA413AndTheUpstreamNeverGetsAWholeBody() {
    AtomicInteger completeBodies = new AtomicInteger();
    upstream.on("/small", request -> request.body().onSuccess(body -> {
      completeBodies.incrementAndGet();
      request.response().end("got " + body.length());
    }));

    Answer answer = onClientContext(() -> oneShotClient().request(HttpMethod.POST, "/small/stream").compose(request -> {
      request.setChunked(true);
      for (int i = 0; i < 8; i++) {
        request.write(randomBytes(512));
      }
      request.end();
      return request.response().compose(response -> response.body()
          .map(b -> new Answer(response.statusCode(), response.headers(), b)));
    }));

    assertThat(answer.status()).isEqualTo(413);
    Await.until("the upstream call is over", Duration.ofSeconds(5),
        () -> upstream.received().isEmpty() || upstream.last().closedBeforeAnswer);
    assertThat(completeBodies.get()).isZero();
  }

  @Test
  void connectionIsClosedAfterAnAnswerGivenBeforeTheBodyWasRead() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", gatewayPort)) {
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      out.write(("POST /small/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4096\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[4096]);
      out.flush();

      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);

      assertThat(answer).startsWith("HTTP/1.1 413").containsIgnoringCase("connection: close");
    }
  }

  @Test
  void unknownPathIsA404Problem() {
    Answer answer = call(HttpMethod.GET, "/nowhere", MultiMap.caseInsensitiveMultiMap(), null);

    assertThat(answer.status()).isEqualTo(404);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:no-route");
    assertThat(answer.problem().getString("requestId")).isEqualTo(answer.headers().get("X-Request-Id"));
  }

  @Test
  void prefixesMatchOnSegmentBoundaries() {
    assertThat(call(HttpMethod.GET, "/apix", MultiMap.caseInsensitiveMultiMap(), null).status()).isEqualTo(404);
    assertThat(call(HttpMethod.GET, "/api", MultiMap.caseInsensitiveMultiMap(), null).status()).isEqualTo(200);
  }

  @Test
  void methodOutsideTheRouteIsA405WithAllow() {
    Answer answer = call(oneShotClient(), HttpMethod.POST, "/readonly/x", MultiMap.caseInsensitiveMultiMap(),
        Buffer.buffer("x"));

    assertThat(answer.status()).isEqualTo(405);
    assertThat(answer.headers().get("Allow")).contains("GET").contains("HEAD");
    assertThat(upstream.received()).isEmpty();
  }

  @Test
  void clientThatGoesAwayResetsTheUpstreamCall() {
    upstream.on("/api/hold", request -> { /* holds the request open */ });
    HttpClientAgent oneShot = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1")
        .setDefaultPort(gatewayPort));
    HttpClientRequest request = onClientContext(() -> oneShot.request(HttpMethod.GET, "/api/hold")
        .compose(sent -> sent.end().map(sent)));
    Await.until("the upstream has the request", Duration.ofSeconds(5), () -> upstream.received().size() == 1);

    request.connection().close();

    Await.until("the upstream sees its connection reset", Duration.ofSeconds(5),
        () -> upstream.last().closedBeforeAnswer);
    Await.result(oneShot.close());
  }

  @Test
  void forwardedHeadersTellTheUpstreamAboutTheClient() {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("X-Forwarded-For", "203.0.113.9")
        .add("Host", "shop.example:8443");

    call(HttpMethod.GET, "/api/who", headers, null);

    MultiMap seen = upstream.last().headers;
    assertThat(seen.get("X-Forwarded-For")).isEqualTo("203.0.113.9, 127.0.0.1");
    assertThat(seen.get("X-Forwarded-Proto")).isEqualTo("http");
    assertThat(seen.get("X-Forwarded-Host")).isEqualTo("shop.example:8443");
    assertThat(seen.get("Host")).isEqualTo("127.0.0.1:" + upstreamPort);
  }

  @Test
  void hopByHopHeadersStayOnTheirHop() {
    upstream.on("/api/hop", request -> request.response().putHeader("Keep-Alive", "timeout=9")
        .putHeader("Connection", "X-Upstream-Private").putHeader("X-Upstream-Private", "secret")
        .putHeader("X-End-To-End", "kept").end("ok"));
    MultiMap headers = MultiMap.caseInsensitiveMultiMap()
        .add("Connection", "keep-alive, X-Drop-Me").add("X-Drop-Me", "1").add("Keep-Alive", "timeout=5")
        .add("TE", "trailers").add("Proxy-Authorization", "Basic eA==").add("X-Keep", "1");

    Answer answer = call(HttpMethod.GET, "/api/hop", headers, null);

    MultiMap seen = upstream.last().headers;
    assertThat(seen.get("X-Keep")).isEqualTo("1");
    assertThat(seen.names()).doesNotContain("X-Drop-Me", "x-drop-me", "Keep-Alive", "keep-alive", "TE", "te",
        "Proxy-Authorization", "proxy-authorization");
    assertThat(answer.headers().get("X-End-To-End")).isEqualTo("kept");
    assertThat(answer.headers().get("X-Upstream-Private")).isNull();
    assertThat(answer.headers().get("Keep-Alive")).isNull();
  }

  @Test
  void clientRequestIdIsKeptAsCorrelationIdAndTheGatewayAssignsItsOwn() {
    Answer answer = call(HttpMethod.GET, "/api/ids",
        MultiMap.caseInsensitiveMultiMap().add("X-Request-Id", "client-chosen-42"), null);

    MultiMap seen = upstream.last().headers;
    assertThat(seen.get("X-Correlation-Id")).isEqualTo("client-chosen-42");
    assertThat(seen.get("X-Request-Id")).isEqualTo(answer.headers().get("X-Request-Id")).matches("\\d+");
  }

  @Test
  void requestIdsAreUniqueAcross100kRequests() {
    upstream.on("/api/fast", request -> request.response().end("k"));
    int total = 100_000;
    int concurrency = 64;
    Set<String> ids = ConcurrentHashMap.newKeySet();
    AtomicInteger issued = new AtomicInteger();
    AtomicInteger failures = new AtomicInteger();

    onClientContext(() -> {
      List<Future<Void>> lanes = new ArrayList<>();
      for (int lane = 0; lane < concurrency; lane++) {
        lanes.add(sendUntil(total, issued, ids, failures));
      }
      return Future.all(lanes);
    });

    assertThat(failures.get()).isZero();
    assertThat(ids).hasSize(total);
  }

  private Future<Void> sendUntil(int total, AtomicInteger issued, Set<String> ids, AtomicInteger failures) {
    if (issued.incrementAndGet() > total) {
      return Future.succeededFuture();
    }
    return client.request(HttpMethod.GET, "/api/fast")
        .compose(HttpClientRequest::send)
        .compose(response -> response.body().map(body -> response.getHeader("X-Request-Id")))
        .andThen(result -> {
          if (result.failed() || !ids.add(result.result())) {
            failures.incrementAndGet();
          }
        })
        .transform(done -> sendUntil(total, issued, ids, failures));
  }

  private static Answer call(HttpMethod method, String uri, MultiMap headers, Buffer body) {
    return call(client, method, uri, headers, body);
  }

  private static Answer call(HttpClient via, HttpMethod method, String uri, MultiMap headers, Buffer body) {
    return onClientContext(() -> via.request(new RequestOptions().setMethod(method).setURI(uri).setHeaders(headers))
        .compose(request -> body == null ? request.send() : request.send(body))
        .compose(response -> response.body().map(b -> new Answer(response.statusCode(), response.headers(), b))));
  }

  /**
   * Runs client calls on one event-loop context, as a verticle would. Driving the client from the
   * test thread let an answer the gateway had sent go unnoticed now and then.
   */
  private static <T> T onClientContext(Supplier<Future<T>> call) {
    Promise<T> done = Promise.promise();
    clientContext.runOnContext(v -> call.get().onComplete(done));
    return Await.result(done.future());
  }

  /**
   * A client of its own for requests answered before their body is read: the gateway closes such
   * connections, and the shared pool should not have to race that close.
   */
  private static HttpClient oneShotClient() {
    return vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(gatewayPort)
        .setKeepAlive(false));
  }

  private static Buffer randomBytes(int size) {
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return Buffer.buffer(bytes);
  }
}
