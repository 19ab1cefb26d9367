package io.unbroken.gateway;

import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.SideRow;
import io.unbroken.gateway.GatewayMetrics.Outcome;
import io.unbroken.idempotency.Claim;
import io.unbroken.idempotency.ClaimTicket;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.idempotency.IdempotencyKeys;
import io.unbroken.idempotency.IdempotencyMetrics;
import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.zombie.InflightRegistry;
import io.unbroken.zombie.InflightRequest;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request on a route with idempotency: the body is read whole (bounded by the route), the key
 * claimed for its scope and fingerprint, and then the request is forwarded once, replayed, held
 * until the first attempt settles, or refused (DESIGN.md section 3, steps 4 and 8 to 10).
 *
 * <p>Unlike a plain exchange, neither the route timeout nor the client leaving cancels the
 * upstream call: what it did cannot be undone, so it keeps running (up to the timeout plus
 * {@code upstreamGrace}) and its answer is stored for the client's retry. An upstream that goes
 * away without answering leaves the outcome unknown: the key is released for a retry, or held for
 * review under {@code unknown: hold}.
 */
final class IdempotentExchange extends Deadlines.Armed implements InflightRegistry.Running {

  private static final Logger log = LoggerFactory.getLogger(IdempotentExchange.class);
  static final String IDEMPOTENCY_KEY = "Idempotency-Key";
  static final String REPLAYED = "Idempotent-Replayed";
  private static final long WAIT_POLL_MS = 250;

  /**
   * The upstream's whole answer, or, when {@code standIn}, the problem kept in place of an answer
   * too large to keep: the upstream did act, so either way the outcome is final.
   */
  private record Answer(int status, String statusMessage, MultiMap headers, Buffer body, boolean standIn) {}

  private final ExchangeServices services;
  private final HttpServerRequest request;
  private final RequestTarget target;
  private final HttpServerResponse response;
  private final RouteConfig route;
  private final IdempotencyPolicy policy;
  private final HttpClient client;
  private final String requestId;
  private final String key;
  private final long clientDeadlineMillis;
  private final Idempotency idempotency;
  private final IdempotencyMetrics idempotencyMetrics;
  private ClaimTicket ticket;
  private Buffer body;
  private RequestJournal.Entry journalEntry;
  private HttpClientRequest upstreamRequest;
  private long graceTimer = -1;
  private long forwardedAt;
  private boolean timedOut;
  private boolean replayed;
  // The earlier attempt this duplicate waits for (inflight: wait), while it waits.
  private Claim.InFlight waitingFor;
  private InflightRegistry.Tracked tracked;
  private long startedMillis;
  // What this exchange itself stopped the attempt for: a cancellation, or a silent upstream.
  private ProxyFailure interruption;
  private final SilenceWatch silence; // null without the route's idleTimeout

  IdempotentExchange(ExchangeServices services, HttpServerRequest request, RequestTarget target, RouteConfig route,
      HttpClient client, String requestId, String key, long clientDeadlineMillis) {
    this.services = services;
    this.request = request;
    this.target = target;
    this.response = request.response();
    this.route = route;
    this.policy = route.idempotency();
    this.client = client;
    this.requestId = requestId;
    this.key = key;
    this.clientDeadlineMillis = clientDeadlineMillis;
    this.idempotency = services.idempotency();
    this.idempotencyMetrics = services.idempotencyMetrics();
    this.silence = route.idleTimeout().map(idle -> new SilenceWatch(services.vertx(), idle,
        () -> interruptCall(ProxyFailure.upstreamSilent(idle.toMillis())))).orElse(null);
  }

  void run() {
    services.deadlines().arm(route, this, clientDeadlineMillis);
    startedMillis = System.currentTimeMillis();
    tracked = services.inflight().track(requestId, this, "reading-body");
    readBody()
        .compose(read -> claimUntilSettled())
        .compose(this::act)
        .onComplete(this::finish);
  }

  private Future<Buffer> readBody() {
    return WholeBody.read(request, response, route.maxBody()).onSuccess(whole -> {
      body = whole;
      List<Map.Entry<String, String>> headers = new ArrayList<>();
      policy.fingerprintHeaders().forEach(name -> headers.add(Map.entry(name, String.valueOf(request.getHeader(name)))));
      String fingerprint = IdempotencyKeys.fingerprint(request.method().name(), target.path(), request.query(),
          headers, whole);
      ticket = idempotency.ticket(IdempotencyKeys.scope(route.prefix(), principal(), key), fingerprint, requestId,
          policy.ttl());
    });
  }

  private String principal() {
    String principal = policy.principal();
    String value = switch (principal) {
      case "none" -> "";
      case "authorization" -> request.getHeader(HttpHeaders.AUTHORIZATION);
      default -> request.getHeader(principal.substring("header:".length()));
    };
    return value == null ? "" : value;
  }

  /** Claims the key; under {@code inflight: wait}, claims again each time it settles, until the deadline. */
  private Future<Claim> claimUntilSettled() {
    tracked.phase(waitingFor == null ? "claiming" : "waiting");
    return idempotency.claim(ticket)
        .recover(failure -> Future.failedFuture(new ProxyFailure("idempotency-unavailable",
            "Idempotency key cannot be recorded", 503, "The request was not forwarded: its Idempotency-Key could not"
            + " be claimed in any store (" + failure.getMessage() + ")")))
        .compose(claim -> {
          long leftMs = remainingMillis();
          if (!(claim instanceof Claim.InFlight inFlight) || policy.inflight() != IdempotencyPolicy.Inflight.WAIT
              || leftMs <= 0 || response.closed()) {
            waitingFor = null;
            return Future.succeededFuture(claim);
          }
          waitingFor = inFlight;
          // Woken when the key settles anywhere; the poll bound covers a notice that came before we listened.
          long waitMs = Math.min(Math.min(leftMs, WAIT_POLL_MS), Math.max(1, inFlight.leaseLeft().toMillis()));
          return idempotency.awaitSettled(ticket.scopeKey(), Duration.ofMillis(waitMs)).compose(settled -> claimUntilSettled());
        });
  }

  private Future<Void> act(Claim claim) {
    if (interruption != null) {
      return (claim instanceof Claim.Claimed ? idempotency.release(ticket) : Future.<Void>succeededFuture())
          .transform(released -> Future.failedFuture(interruption));
    }
    idempotencyMetrics.claimed(claim);
    if (claim instanceof Claim.Completed completed) {
      return replay(completed.answer());
    }
    if (claim instanceof Claim.Mismatch) {
      idempotencyMetrics.mismatch();
      return Future.failedFuture(new ProxyFailure("idempotency-key-reused", "Idempotency-Key reused", 422,
          "This Idempotency-Key was used with another request (method, path, query, headers or body differ);"
          + " use a new key for a new request"));
    }
    if (claim instanceof Claim.InFlight inFlight) {
      idempotencyMetrics.conflict();
      if (policy.inflight() == IdempotencyPolicy.Inflight.WAIT) {
        return Future.failedFuture(stillRunning(inFlight));
      }
      return Future.failedFuture(new ProxyFailure("request-in-progress", "Request in progress", 409,
          "A request with this Idempotency-Key is still being processed; retry after it finishes")
          .retryAfter(retryAfterSeconds(inFlight)).runningRequest(inFlight.owner()));
    }
    return forward();
  }

  private Future<Void> replay(StoredAnswer answer) {
    if (answer.isUnknown()) {
      return Future.failedFuture(new ProxyFailure("outcome-unknown", "Outcome unknown", 503,
          "An earlier attempt with this Idempotency-Key got no answer from the upstream; it is held for review"));
    }
    idempotencyMetrics.replayed();
    replayed = true;
    services.journal().replayed(requestId, route, this::summary, new JsonObject().put("status", answer.status()));
    if (response.closed()) {
      return Future.succeededFuture();
    }
    response.setStatusCode(answer.status());
    answer.headers().forEach(header -> response.headers().add(header.getKey(), header.getValue()));
    response.putHeader(REPLAYED, "true").putHeader(ForwardedHeaders.REQUEST_ID, requestId);
    return response.end(answer.body());
  }

  /** Forwards the claimed request and keeps its outcome; counted, so a graceful stop waits for both. */
  private Future<Void> forward() {
    services.calls().started();
    tracked.phase("forwarding");
    // Without events there is nothing to open: the journal stage would cost a description and a future per request.
    Future<Answer> answered = route.events() == RouteConfig.EventsMode.OFF ? callUpstream()
        : services.journal().open(describe(), route, this::summary).compose(this::callUpstream);
    return answered
        .transform(this::settle)
        .onComplete(settled -> services.calls().ended());
  }

  private Future<Answer> callUpstream(RequestJournal.Entry entry) {
    journalEntry = entry;
    return callUpstream();
  }

  private Future<Answer> callUpstream() {
    return client.request(Upstreams.requestOptions(route, request, target))
        .compose(this::send)
        .compose(this::readAnswer);
  }

  private JsonObject summary() {
    return RequestJournal.describe(request, target, route).put("idempotencyScope", ticket.scopeKey());
  }

  private Future<HttpClientResponse> send(HttpClientRequest upstream) {
    upstreamRequest = upstream;
    if (interruption != null) {
      upstream.reset(0, interruption);
      return Future.failedFuture(interruption);
    }
    forwardedAt = System.nanoTime();
    long remainingMs = remainingMillis();
    ForwardedHeaders.forUpstream(request, upstream.headers(), requestId, remainingMs);
    // The call may outlive the client's deadline by the grace; past that nobody will use its answer.
    graceTimer = services.vertx().setTimer(remainingMs + policy.upstreamGrace().toMillis(),
        t -> upstream.reset(0, ProxyFailure.timeout(route.timeout().plus(policy.upstreamGrace()).toMillis())));
    Future<Void> sent = upstream.end(body);
    if (silence != null) {
      sent.onSuccess(whole -> silence.start()); // the upstream owes nothing until it has the whole request
    }
    return upstream.response();
  }

  private Future<Answer> readAnswer(HttpClientResponse upstream) {
    services.metrics().upstreamLatency(route.prefix(), System.nanoTime() - forwardedAt);
    tracked.phase("answering");
    Promise<Answer> read = Promise.promise();
    Buffer collected = Buffer.buffer();
    if (silence != null) {
      silence.heard();
    }
    upstream.handler(chunk -> {
      if (silence != null) {
        silence.heard();
      }
      if (collected.length() + chunk.length() > policy.maxAnswer()) {
        // Settled first: the reset fails the stream, which must not count as the outcome. An answer
        // that frees the key anyway (a 5xx) needs no stand-in: the retry runs again, as it would.
        read.tryComplete(tooLargeToKeep(upstream.statusCode(), !policy.releaseOn().contains(upstream.statusCode())));
        upstream.request().reset(0);
      } else if (!read.future().isComplete()) {
        collected.appendBuffer(chunk);
      }
    });
    upstream.exceptionHandler(read::tryFail);
    upstream.endHandler(end -> read.tryComplete(
        new Answer(upstream.statusCode(), upstream.statusMessage(), upstream.headers(), collected, false)));
    return read.future();
  }

  /** What this attempt and its retries get when the upstream acted but its answer is larger than the route keeps. */
  private Answer tooLargeToKeep(int upstreamStatus, boolean standIn) {
    Problem problem = Problem.of("answer-too-large", "Upstream answer too large", 502, "The upstream processed the"
        + " request (status " + upstreamStatus + ") but its answer is larger than this route keeps for retries ("
        + policy.maxAnswer() + " bytes, idempotency.maxAnswer)" + (standIn ? "; it will not be run again for this key" : ""),
        requestId);
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add(HttpHeaders.CONTENT_TYPE, Problem.CONTENT_TYPE);
    return new Answer(502, "Bad Gateway", headers, problem.toJson().toBuffer(), standIn);
  }

  /** Stores a final answer, frees the key otherwise; then answers the client if it still waits. */
  private Future<Void> settle(AsyncResult<Answer> result) {
    services.vertx().cancelTimer(graceTimer);
    if (silence != null) {
      silence.stop();
    }
    if (result.failed()) {
      return settleFailure(result.cause());
    }
    Answer answer = result.result();
    JsonObject outcome = new JsonObject().put("status", answer.status());
    if (!answer.standIn() && policy.releaseOn().contains(answer.status())) {
      return releaseAndRecord(RequestLifecycle.COMPLETED, outcome).compose(recorded -> respond(answer));
    }
    StoredAnswer stored = new StoredAnswer(answer.status(), replayedHeaders(answer.headers()), answer.body());
    return keep(stored, RequestLifecycle.COMPLETED, outcome).compose(done -> respond(answer));
  }

  private Future<Void> settleFailure(Throwable cause) {
    ProxyFailure failure = interruption != null ? interruption : ProxyFailure.classify(cause, route);
    JsonObject outcome = new JsonObject().put("status", failure.status()).put("reason", failure.slug())
        .put("detail", failure.getMessage());
    failure.cancelledBy().ifPresent(by -> outcome.put("by", by.label()));
    String type = failure.cancelledBy().isPresent() ? RequestLifecycle.CANCELLED : RequestLifecycle.FAILED;
    boolean outcomeUnknown = upstreamRequest != null && !ProxyFailure.neverReachedUpstream(cause);
    if (outcomeUnknown) {
      idempotencyMetrics.unknownOutcome();
    }
    if (!outcomeUnknown || policy.unknown() == IdempotencyPolicy.Unknown.RETRY) {
      return releaseAndRecord(type, outcome).transform(done -> Future.failedFuture(failure));
    }
    log.warn("Request {} got no answer from {}: its Idempotency-Key is held for review", requestId, route.upstream());
    return keep(StoredAnswer.UNKNOWN, type, outcome).transform(done -> Future.failedFuture(failure));
  }

  /**
   * Keeps the answer with the key and records how the request ended, the key's durable row in the
   * same transaction. On a sync route PostgreSQL has both before the key completes and the client
   * hears. A route without events has no transaction to share: the durable row goes behind the answer.
   */
  private Future<Void> keep(StoredAnswer stored, String type, JsonObject outcome) {
    if (route.events() == RouteConfig.EventsMode.OFF) {
      return completeKey(idempotency.completeAndKeep(ticket, stored, requestId));
    }
    List<SideRow> rows = idempotency.durableRow(ticket, stored, requestId).stream().toList();
    return route.events() == RouteConfig.EventsMode.SYNC
        ? services.journal().close(journalEntry, type, outcome, rows)
            .transform(recorded -> completeKey(idempotency.complete(ticket, stored)))
        : completeKey(idempotency.complete(ticket, stored))
            .onComplete(completed -> services.journal().close(journalEntry, type, outcome, rows));
  }

  /** Frees the key for a retry, then records how the request ended (on a sync route, before the client hears). */
  private Future<Void> releaseAndRecord(String type, JsonObject outcome) {
    return idempotency.release(ticket)
        .onFailure(failure -> log.warn("Key of request {} not released: {}", requestId, failure.getMessage()))
        .transform(released -> journalEntry == null
            ? Future.<Void>succeededFuture()
            : services.journal().close(journalEntry, type, outcome));
  }

  private Future<Void> completeKey(Future<Void> completed) {
    return completed
        .recover(failure -> {
          log.warn("Answer of request {} not stored with its key: {}", requestId, failure.getMessage());
          return Future.succeededFuture();
        });
  }

  private List<Map.Entry<String, String>> replayedHeaders(MultiMap headers) {
    List<Map.Entry<String, String>> kept = new ArrayList<>();
    for (List<String> names : List.of(IdempotencyPolicy.ALWAYS_REPLAYED, policy.replayHeaders())) {
      for (String name : names) {
        headers.getAll(name).forEach(value -> kept.add(Map.entry(name, value)));
      }
    }
    return kept;
  }

  private Future<Void> respond(Answer answer) {
    if (response.headWritten() || response.closed()) {
      return Future.succeededFuture(); // the client left or got its 504; the answer waits for its retry
    }
    response.setStatusCode(answer.status()).setStatusMessage(answer.statusMessage());
    ForwardedHeaders.copy(answer.headers(), response.headers());
    response.headers().set(ForwardedHeaders.REQUEST_ID, requestId);
    return response.end(answer.body());
  }

  /**
   * A duplicate held until its deadline while the earlier attempt still runs ends as that attempt
   * would at its deadline: 504, which retrying clients retry (409 they take as final), naming the
   * attempt whose answer the retry will get.
   */
  private ProxyFailure stillRunning(Claim.InFlight inFlight) {
    return new ProxyFailure("upstream-timeout", "Upstream timed out", 504, "No answer within "
        + timeoutMillis() + " ms: request " + inFlight.owner() + " with this Idempotency-Key is still"
        + " running; retry with the same key to get its answer")
        .retryAfter(retryAfterSeconds(inFlight)).runningRequest(inFlight.owner());
  }

  /** The earlier attempt usually ends well within its lease: suggest a short wait, at most the lease. */
  private static long retryAfterSeconds(Claim.InFlight inFlight) {
    return Math.min(Math.max(1, (inFlight.leaseLeft().toMillis() + 999) / 1000), 5);
  }

  /**
   * Stopped from outside (an operator, a shutdown): unlike a deadline, this ends the upstream call
   * too. The client, if still there, hears at once; a call already sent leaves its outcome unknown,
   * settled by the route's {@code unknown} policy; a request not forwarded yet never will be.
   */
  @Override
  public InflightRequest describe() {
    return services.describe(request, target, route, requestId, startedMillis, timeoutMillis(),
        ticket == null ? "" : ticket.scopeKey(), ticket == null ? "" : ticket.fingerprint());
  }

  @Override
  public void cancel(InflightRegistry.CancelledBy by) {
    if (!interruptCall(ProxyFailure.cancelled(by))) {
      return;
    }
    if (!response.headWritten() && !response.closed()) {
      if (!request.isEnded()) {
        UnreadBody.discardThenClose(services.vertx(), request);
      }
      interruption.sendAfresh(response, requestId);
      services.metrics().request(route.prefix(), interruption.status(), Outcome.CANCELLED);
    }
  }

  /** Ends the upstream call (if one was sent) for {@code why}; false when it was already interrupted. */
  private boolean interruptCall(ProxyFailure why) {
    if (interruption != null) {
      return false;
    }
    interruption = why;
    if (upstreamRequest != null) {
      upstreamRequest.reset(0, why);
    }
    return true;
  }

  /** The route timeout passed: the client gets 504, the upstream call goes on for its retry. */
  @Override
  void expire() {
    if (!response.headWritten() && !response.closed()) {
      ProxyFailure failure = waitingFor != null ? stillRunning(waitingFor)
          : new ProxyFailure("upstream-timeout", "Upstream timed out", 504, "No answer within "
              + timeoutMillis() + " ms; the request may still complete: retry with the same Idempotency-Key"
              + " to get its answer");
      failure.sendAfresh(response, requestId);
      services.metrics().request(route.prefix(), 504, Outcome.TIMED_OUT);
      timedOut = true;
    }
  }

  private void finish(AsyncResult<Void> result) {
    tracked.done();
    services.deadlines().disarm(this);
    if (timedOut) {
      return; // answered and counted when the deadline passed
    }
    if (result.succeeded()) {
      if (!response.headWritten()) {
        services.metrics().request(route.prefix(), 499, Outcome.CLIENT_GONE); // its answer waits for a retry
      } else {
        services.metrics().request(route.prefix(), response.getStatusCode(), replayed ? Outcome.REPLAYED : Outcome.FORWARDED);
      }
      return;
    }
    ProxyFailure failure = ProxyFailure.classify(result.cause(), route);
    if (!response.headWritten() && !response.closed()) {
      if (!request.isEnded()) {
        UnreadBody.discardThenClose(services.vertx(), request);
      }
      failure.sendAfresh(response, requestId);
      services.metrics().request(route.prefix(), failure.status(), ProxyExchange.outcome(failure));
    }
    log.info("{} {} failed: {} ({})", request.method(), target.path(), failure.getMessage(), failure.status());
  }
}
