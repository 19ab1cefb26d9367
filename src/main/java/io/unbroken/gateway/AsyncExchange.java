package io.unbroken.gateway;

import io.unbroken.config.AsyncPolicy;
import io.unbroken.config.ConfigLoader;
import io.unbroken.config.RouteConfig;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.gateway.GatewayMetrics.Outcome;
import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.zombie.InflightRegistry.CancelledBy;
import io.unbroken.zombie.InflightRegistry;
import io.unbroken.zombie.InflightRequest;
import io.unbroken.zombie.StatusMonitors;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One request a client asked to have answered later ({@code Prefer: respond-async}, RFC 7240): the
 * body is read whole, a status monitor opened, the client answered {@code 202 Accepted} with the
 * monitor's {@code Location}, and then the request is forwarded and its answer kept in the monitor
 * for the route's {@code keep}. The client's polls of the monitor are its heartbeat: checked here
 * every so often (by the store's clock), a client not heard for {@code heartbeat} has gone, and its
 * request, now a zombie, is cancelled ({@code client-heartbeat-lost}). The route's timeout bounds
 * the whole exchange.
 */
final class AsyncExchange extends Deadlines.Armed implements InflightRegistry.Running {

  static final String PREFER = "Prefer";
  private static final long MAX_KEPT_ANSWER = 1 << 20;
  // How often the client's heartbeat is checked, at most: a lapse is noticed within heartbeat + this.
  private static final long MAX_CHECK_MS = 500;

  private final ExchangeServices services;
  private final HttpServerRequest request;
  private final RequestTarget target;
  private final HttpServerResponse response;
  private final RouteConfig route;
  private final AsyncPolicy policy;
  private final HttpClient client;
  private final String requestId;
  private final StatusMonitors monitors;
  private InflightRegistry.Tracked tracked;
  private long startedMillis;
  private RequestJournal.Entry journalEntry;
  private HttpClientRequest upstreamRequest;
  private ProxyFailure interruption;
  private boolean monitorOpened;
  private long heartbeatTimer = -1;
  private boolean checking;
  private boolean counted;

  AsyncExchange(ExchangeServices services, HttpServerRequest request, RequestTarget target, RouteConfig route,
      HttpClient client, String requestId) {
    this.services = services;
    this.request = request;
    this.target = target;
    this.response = request.response();
    this.route = route;
    this.policy = route.async().orElseThrow();
    this.client = client;
    this.requestId = requestId;
    this.monitors = services.monitors();
  }

  /** True when the client asks for an asynchronous answer (a {@code respond-async} preference). */
  static boolean requested(HttpServerRequest request) {
    return request.headers().getAll(PREFER).stream()
        .flatMap(value -> List.of(value.split(",")).stream())
        .anyMatch(preference -> preference.trim().toLowerCase(Locale.ROOT).startsWith("respond-async"));
  }

  static String monitorOf(String requestId) {
    return ConfigLoader.MONITORS + "/" + requestId;
  }

  void run() {
    services.deadlines().arm(route, this);
    startedMillis = System.currentTimeMillis();
    tracked = services.inflight().track(requestId, this, "reading-body");
    WholeBody.read(request, response, route.maxBody())
        .compose(body -> monitors.open(requestId, services.nodeId(), policy.heartbeat(), policy.keep())
            .recover(failure -> Future.failedFuture(new ProxyFailure("monitors-unavailable",
                "Status monitor unavailable", 503, "The request was not forwarded: its status monitor could not be"
                + " opened (" + failure.getMessage() + ")")))
            .compose(opened -> {
              monitorOpened = true;
              return services.journal().open(describe(), route, () -> RequestJournal.describe(request, target, route));
            })
            .compose(entry -> {
              journalEntry = entry;
              accept();
              return forward(body);
            }))
        .onComplete(this::finish);
  }

  /** 202 with the monitor: the client is free, and polls the monitor from now on. */
  private void accept() {
    String monitor = monitorOf(requestId);
    response.setStatusCode(202)
        .putHeader("Location", monitor)
        .putHeader("Preference-Applied", "respond-async")
        .putHeader("Retry-After", Long.toString(MonitorEndpoint.retryAfterSeconds(policy.heartbeat())))
        .putHeader(ForwardedHeaders.REQUEST_ID, requestId)
        .putHeader("Content-Type", "application/json")
        .end(new JsonObject().put("requestId", requestId).put("status", "running").put("monitor", monitor)
            .put("heartbeatSeconds", policy.heartbeat().toSeconds()).encode());
    services.metrics().request(route.prefix(), 202, Outcome.FORWARDED);
    // Counted like the calls that outlive their client: a graceful stop gives them the drain too.
    services.calls().started();
    counted = true;
    long every = Math.max(1, Math.min(MAX_CHECK_MS, policy.heartbeat().toMillis() / 4));
    heartbeatTimer = services.vertx().setPeriodic(every, t -> checkHeartbeat());
  }

  private void checkHeartbeat() {
    if (checking) {
      return;
    }
    checking = true;
    monitors.heard(requestId)
        .onSuccess(heard -> {
          if (!heard) {
            cancel(CancelledBy.CLIENT_HEARTBEAT_LOST);
          }
        })
        .onComplete(done -> checking = false);
  }

  private Future<StoredAnswer> forward(Buffer body) {
    if (interruption != null) {
      return Future.failedFuture(interruption);
    }
    tracked.phase("forwarding");
    return client.request(Upstreams.requestOptions(route, request, target))
        .compose(upstream -> {
          upstreamRequest = upstream;
          if (interruption != null) {
            upstream.reset(0, interruption);
            return Future.failedFuture(interruption);
          }
          ForwardedHeaders.forUpstream(request, upstream.headers(), requestId, remainingMillis());
          upstream.headers().remove(PREFER); // applied here: the upstream answers as it would anyone
          upstream.end(body);
          return upstream.response();
        })
        .compose(this::readAnswer);
  }

  private Future<StoredAnswer> readAnswer(HttpClientResponse upstream) {
    tracked.phase("answering");
    Promise<StoredAnswer> read = Promise.promise();
    Buffer collected = Buffer.buffer();
    upstream.handler(chunk -> {
      if (collected.length() + chunk.length() > MAX_KEPT_ANSWER) {
        read.tryFail(new ProxyFailure("answer-too-large", "Upstream answer too large", 502, "The upstream answered "
            + upstream.statusCode() + " with more than the " + MAX_KEPT_ANSWER + " bytes a status monitor keeps"));
        upstream.request().reset(0);
      } else {
        collected.appendBuffer(chunk);
      }
    });
    upstream.exceptionHandler(read::tryFail);
    upstream.endHandler(end -> {
      MultiMap headers = MultiMap.caseInsensitiveMultiMap();
      ForwardedHeaders.copy(upstream.headers(), headers);
      List<Map.Entry<String, String>> kept = new ArrayList<>();
      headers.forEach(header -> kept.add(Map.entry(header.getKey(), header.getValue())));
      read.tryComplete(new StoredAnswer(upstream.statusCode(), kept, collected));
    });
    return read.future();
  }

  /**
   * Stopped from outside: by the client (DELETE on the monitor), an operator, a lost heartbeat or
   * a shutdown. The upstream call is reset; a client still waiting for its 202 gets the problem.
   */
  @Override
  public InflightRequest describe() {
    return services.describe(request, target, route, requestId, startedMillis, timeoutMillis(), "", "");
  }

  @Override
  public void cancel(CancelledBy by) {
    interrupt(ProxyFailure.cancelled(by));
  }

  private void interrupt(ProxyFailure why) {
    if (interruption != null) {
      return;
    }
    interruption = why;
    if (upstreamRequest != null) {
      upstreamRequest.reset(0, why);
    }
    if (!response.headWritten() && !response.closed()) {
      if (!request.isEnded()) {
        UnreadBody.discardThenClose(services.vertx(), request);
      }
      why.sendAfresh(response, requestId);
    }
  }

  @Override
  void expire() {
    interrupt(ProxyFailure.timeout(timeoutMillis()));
  }

  /** Keeps the answer, or why there is none, in the monitor, and records how the request ended. */
  private void finish(AsyncResult<StoredAnswer> result) {
    tracked.done();
    services.deadlines().disarm(this);
    services.vertx().cancelTimer(heartbeatTimer);
    Future<Void> kept = result.succeeded() ? answered(result.result()) : failed(result.cause());
    if (counted) {
      kept.onComplete(done -> services.calls().ended()); // a stopping node waits until the monitor has it
    }
  }

  private Future<Void> answered(StoredAnswer answer) {
    return Future.join(monitors.answered(requestId, answer),
        close(RequestLifecycle.COMPLETED, new JsonObject().put("status", answer.status()))).mapEmpty();
  }

  private Future<Void> failed(Throwable cause) {
    ProxyFailure failure = interruption != null ? interruption : ProxyFailure.classify(cause, route);
    if (!response.headWritten() && !response.closed()) {
      if (!request.isEnded()) {
        UnreadBody.discardThenClose(services.vertx(), request);
      }
      failure.sendAfresh(response, requestId);
      services.metrics().request(route.prefix(), failure.status(), ProxyExchange.outcome(failure));
    }
    String reason = failure.cancelledBy().map(CancelledBy::label).orElse(failure.slug());
    Future<Void> ended = monitorOpened ? monitors.ended(requestId, reason) : Future.succeededFuture();
    JsonObject data = new JsonObject().put("status", failure.status()).put("reason", failure.slug())
        .put("detail", failure.getMessage());
    failure.cancelledBy().ifPresent(by -> data.put("by", by.label()));
    return Future.join(ended,
        close(failure.cancelledBy().isPresent() ? RequestLifecycle.CANCELLED : RequestLifecycle.FAILED, data))
        .mapEmpty();
  }

  private Future<Void> close(String type, JsonObject data) {
    return journalEntry == null ? Future.succeededFuture() : services.journal().close(journalEntry, type, data);
  }
}
