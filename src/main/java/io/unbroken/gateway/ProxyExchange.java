package io.unbroken.gateway;

import io.unbroken.config.RouteConfig;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.gateway.GatewayMetrics.Outcome;
import io.unbroken.locks.Lock;
import io.unbroken.locks.LockTimeout;
import io.unbroken.locks.ResourceLocks;
import io.unbroken.zombie.InflightRegistry;
import io.unbroken.zombie.InflightRequest;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request forwarded to its upstream and the answer streamed back.
 *
 * <p>Bodies stream both ways with back-pressure, so memory does not grow with body size; answers
 * up to {@link #AGGREGATE_LIMIT} bytes are read whole and written in one go, which is cheaper for
 * the many small answers an API gateway sees. The route timeout and the client going away
 * interrupt the exchange: the upstream request is reset (the upstream sees its connection
 * closed), and a client still waiting gets a problem. Bodies are never ended on failure, so an
 * upstream never mistakes a cut-off body for a complete one.
 */
final class ProxyExchange extends Deadlines.Armed implements InflightRegistry.Running {

  private static final Logger log = LoggerFactory.getLogger(ProxyExchange.class);
  private static final long AGGREGATE_LIMIT = 16 * 1024;
  private static final String FENCING_TOKEN = "X-Fencing-Token";
  private static final CharSequence X_REQUEST_ID = HttpHeaders.createOptimized(ForwardedHeaders.REQUEST_ID);
  // A live holder must not lose its lease before its own timeout ends it.
  private static final Duration LOCK_LEASE_MARGIN = Duration.ofSeconds(5);

  private final Vertx vertx;
  private final HttpServerRequest request;
  private final RequestTarget target;
  private final HttpServerResponse response;
  private final RouteConfig route;
  private final HttpClient client;
  private final String requestId;
  private final long clientDeadlineMillis;
  private final GatewayMetrics metrics;
  private final Deadlines deadlines;
  private final RequestJournal journal;
  private final ResourceLocks locks;
  private final SilenceWatch silence; // null without the route's idleTimeout
  private final ExchangeServices services;
  private InflightRegistry.Tracked tracked;
  private long startedMillis;
  private RequestJournal.Entry journalEntry;
  private Lock lock;
  private boolean outcomeRecorded;
  private HttpClientRequest upstreamRequest;
  private ProxyFailure interruption;
  private long forwardedAt;
  private boolean hasBody;
  private boolean chunkedBody;

  ProxyExchange(ExchangeServices services, HttpServerRequest request, RequestTarget target, RouteConfig route,
      HttpClient client, String requestId, long clientDeadlineMillis) {
    this.services = services;
    this.vertx = services.vertx();
    this.request = request;
    this.target = target;
    this.response = request.response();
    this.route = route;
    this.client = client;
    this.requestId = requestId;
    this.clientDeadlineMillis = clientDeadlineMillis;
    this.metrics = services.metrics();
    this.deadlines = services.deadlines();
    this.journal = services.journal();
    this.locks = services.locks();
    this.silence = route.idleTimeout().map(idle -> new SilenceWatch(vertx, idle,
        () -> interrupt(ProxyFailure.upstreamSilent(idle.toMillis())))).orElse(null);
  }

  void run() {
    String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    chunkedBody = length == null && request.headers().contains(HttpHeaders.TRANSFER_ENCODING);
    hasBody = chunkedBody || (length != null && !length.equals("0"));
    if (hasBody) {
      // Hold the body until the upstream request exists. A request without a body is not paused:
      // its end must reach the server so the connection can serve the client's next request.
      request.pause();
    }
    deadlines.arm(route, this, clientDeadlineMillis);
    startedMillis = System.currentTimeMillis();
    tracked = services.inflight().track(requestId, this, "recording");
    response.closeHandler(closed -> interrupt(ProxyFailure.clientGone()));
    // The plain passthrough skips the journal and lock stages: each costs a future per request.
    Future<HttpClientRequest> connected = route.events() == RouteConfig.EventsMode.OFF && route.lock().isEmpty()
        ? connect()
        : journal.open(describe(), route, () -> RequestJournal.describe(request, target, route))
            .compose(this::lockResource)
            .compose(entry -> connect());
    connected
        .compose(this::forwardRequest)
        .compose(this::relayResponse)
        .onComplete(this::finish);
  }

  /** On a route with a lock template, waits for the resource (until this request's deadline). */
  private Future<RequestJournal.Entry> lockResource(RequestJournal.Entry entry) {
    journalEntry = entry;
    Optional<String> resource = route.lock().flatMap(template -> template.resourceOf(target.path()));
    if (resource.isEmpty()) {
      return Future.succeededFuture(entry);
    }
    tracked.phase("locking");
    Duration lease = route.timeout().plus(LOCK_LEASE_MARGIN);
    return locks.acquire(resource.get(), requestId, lease, deadlineNanos())
        .recover(failure -> Future.failedFuture(failure instanceof LockTimeout
            ? ProxyFailure.resourceBusy(resource.get()) : ProxyFailure.locksUnavailable(failure.getMessage())))
        .compose(acquired -> {
          lock = acquired;
          return interruption != null ? Future.failedFuture(interruption) : Future.succeededFuture(entry);
        });
  }

  private Future<HttpClientRequest> connect() {
    forwardedAt = System.nanoTime();
    tracked.phase("forwarding");
    return client.request(Upstreams.requestOptions(route, request, target));
  }

  private Future<HttpClientResponse> forwardRequest(HttpClientRequest upstream) {
    upstreamRequest = upstream;
    if (interruption != null) {
      upstream.reset(0, interruption);
      return Future.failedFuture(interruption);
    }
    ForwardedHeaders.forUpstream(request, upstream.headers(), requestId, remainingMillis());
    if (lock != null) {
      upstream.headers().set(FENCING_TOKEN, Long.toString(lock.fencingToken()));
    }
    Future<Void> sent = hasBody ? sendBody(upstream) : upstream.end();
    if (silence != null) {
      sent.onSuccess(whole -> silence.start()); // the upstream owes nothing until it has the whole request
    }
    return upstream.response();
  }

  private Future<Void> sendBody(HttpClientRequest upstream) {
    if (request.headers().contains(HttpHeaders.EXPECT)) {
      response.writeContinue();
    }
    upstream.setChunked(chunkedBody);
    var body = chunkedBody
        ? new LimitedBody(request, route.maxBody(), () -> interrupt(ProxyFailure.bodyTooLarge(route.maxBody())))
        : request;
    return body.pipe().endOnFailure(false).to(upstream).onFailure(failure -> upstream.reset(0, failure));
  }

  private Future<Void> relayResponse(HttpClientResponse upstream) {
    if (interruption != null) {
      return Future.failedFuture(interruption);
    }
    long latency = System.nanoTime() - forwardedAt;
    metrics.upstreamLatency(route.prefix(), latency);
    tracked.phase("answering");
    if (silence != null) {
      silence.heard();
    }
    if (route.events() == RouteConfig.EventsMode.OFF) {
      return writeResponse(upstream);
    }
    // The answer goes out once its completion is recorded (sync); hold the body meanwhile.
    upstream.pause();
    outcomeRecorded = true;
    return journal.close(journalEntry, RequestLifecycle.COMPLETED, new JsonObject()
            .put("status", upstream.statusCode()).put("upstreamMillis", latency / 1_000_000))
        .compose(recorded -> interruption != null ? Future.failedFuture(interruption) : writeResponse(upstream));
  }

  private Future<Void> writeResponse(HttpClientResponse upstream) {
    response.setStatusCode(upstream.statusCode()).setStatusMessage(upstream.statusMessage());
    ForwardedHeaders.copy(upstream.headers(), response.headers());
    // An upstream that echoes X-Request-Id (many do) must not make it appear twice.
    response.headers().set(X_REQUEST_ID, requestId);
    String length = upstream.getHeader(HttpHeaders.CONTENT_LENGTH);
    // With a silence watch every chunk must reach it, so no aggregated read.
    if (silence == null && length != null && length.length() < 7 && Long.parseLong(length) <= AGGREGATE_LIMIT) {
      Future<Buffer> body = upstream.body();
      upstream.resume();
      return body.compose(response::end);
    }
    if (length == null && hasBody(upstream.statusCode())) {
      response.setChunked(true);
    }
    return (silence == null ? upstream : silence.watch(upstream)).pipe().endOnFailure(false).to(response);
  }

  private boolean hasBody(int status) {
    return status >= 200 && status != 204 && status != 304 && request.method() != HttpMethod.HEAD;
  }

  @Override
  public InflightRequest describe() {
    return services.describe(request, target, route, requestId, startedMillis, timeoutMillis(), "", "");
  }

  @Override
  public void cancel(InflightRegistry.CancelledBy by) {
    interrupt(ProxyFailure.cancelled(by));
  }

  /** The route timeout fired, the client went away, someone cancelled it or the body grew too large. */
  private void interrupt(ProxyFailure failure) {
    if (interruption != null || response.ended()) {
      return;
    }
    interruption = failure;
    if (upstreamRequest != null) {
      upstreamRequest.reset(0, failure);
    }
    // A sync route answers a failure once it is recorded (finish does); only its deadline's 504 cannot wait.
    boolean answerNow = route.events() != RouteConfig.EventsMode.SYNC
        || failure.cancelledBy().filter(by -> by == InflightRegistry.CancelledBy.DEADLINE).isPresent();
    if (failure.status() != 499 && answerNow && !response.headWritten()) {
      sendProblem(failure, hasBody);
    }
  }

  /**
   * Answers with {@code failure}'s problem. {@link #writeResponse} may already have put the
   * upstream's status line and headers on this response (Content-Length, Content-Encoding,
   * Set-Cookie...); sent with the problem's body they would misframe or mislabel it, so the head
   * starts again from the gateway's own.
   */
  private void sendProblem(ProxyFailure failure, boolean discardBody) {
    if (discardBody) {
      UnreadBody.discardThenClose(vertx, request);
    }
    failure.sendAfresh(response, requestId);
  }

  @Override
  void expire() {
    interrupt(ProxyFailure.timeout(timeoutMillis()));
  }

  private void finish(AsyncResult<Void> result) {
    tracked.done();
    if (silence != null) {
      silence.stop();
    }
    if (lock != null) {
      locks.release(lock, result.succeeded() && response.getStatusCode() < 300);
    }
    if (result.succeeded()) {
      deadlines.disarm(this);
      metrics.request(route.prefix(), response.getStatusCode(), Outcome.FORWARDED);
      return;
    }
    ProxyFailure failure = interruption != null ? interruption : ProxyFailure.classify(result.cause(), route);
    boolean answerDue = !response.headWritten() && !response.closed();
    if (!answerDue && !response.ended() && !response.closed()) {
      response.reset(); // the answer was cut off mid-body; closing tells the client it is incomplete
    }
    boolean neverForwarded = hasBody && upstreamRequest == null; // nobody will read the body
    // Like an answer, a sync route's problem goes out once the failure is recorded; the deadline
    // stays armed meanwhile, so a slow record ends in the route's 504 as a slow answer's does.
    recordFailure(failure).onComplete(recorded -> {
      deadlines.disarm(this);
      if (answerDue && !response.headWritten() && !response.closed()) {
        sendProblem(failure, neverForwarded);
      }
    });
    log.info("{} {} failed: {} ({})", request.method(), target.path(), failure.getMessage(), failure.status());
    metrics.request(route.prefix(), failure.status(), outcome(failure));
  }

  /** Records how the request failed; for a sync route the future completes after the commit. */
  private Future<Void> recordFailure(ProxyFailure failure) {
    if (journalEntry == null || outcomeRecorded) {
      return Future.succeededFuture();
    }
    outcomeRecorded = true;
    // A silent upstream failed; a client that left, a deadline that passed or an operator cancelled the request.
    JsonObject data = new JsonObject().put("status", failure.status()).put("reason", failure.slug())
        .put("detail", failure.getMessage());
    failure.cancelledBy().ifPresent(by -> data.put("by", by.label()));
    return journal.close(journalEntry,
        failure.cancelledBy().isPresent() ? RequestLifecycle.CANCELLED : RequestLifecycle.FAILED, data);
  }

  static Outcome outcome(ProxyFailure failure) {
    if (failure.slug().equals(ProxyFailure.CANCELLED)) {
      return Outcome.CANCELLED;
    }
    return switch (failure.status()) {
      case 504 -> Outcome.TIMED_OUT;
      case 499 -> Outcome.CLIENT_GONE;
      case 413 -> Outcome.REJECTED;
      // Every 503 here is the gateway's own (event store, resource lock): the upstream was never asked.
      case 503 -> Outcome.NOT_READY;
      default -> Outcome.UPSTREAM_FAILED;
    };
  }
}
