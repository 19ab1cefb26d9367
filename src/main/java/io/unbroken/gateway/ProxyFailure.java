package io.unbroken.gateway;

import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.unbroken.config.RouteConfig;
import io.unbroken.zombie.InflightRegistry.CancelledBy;
import io.vertx.core.http.HttpServerResponse;
import java.net.ConnectException;
import java.util.Optional;

/** Why a request could not be proxied, with the problem the client is answered with. */
final class ProxyFailure extends RuntimeException {

  static final String CANCELLED = "request-cancelled";

  private final String slug;
  private final String title;
  private final int status;
  private long retryAfterSeconds;
  private String runningRequestId;
  private CancelledBy cancelledBy; // who stopped the request, when this failure is a cancellation

  String slug() {
    return slug;
  }

  ProxyFailure(String slug, String title, int status, String detail) {
    super(detail, null, false, false);
    this.slug = slug;
    this.title = title;
    this.status = status;
  }

  static ProxyFailure bodyTooLarge(long limit) {
    return new ProxyFailure("body-too-large", "Request body too large", 413,
        "The request body is larger than this route's limit of " + limit + " bytes");
  }

  static ProxyFailure timeout(long millis) {
    return new ProxyFailure("upstream-timeout", "Upstream timed out", 504,
        "The upstream did not answer within this request's deadline of " + millis + " ms (the route's timeout, or"
        + " the client's X-Request-Deadline-Ms where shorter)").cancelledBy(CancelledBy.DEADLINE);
  }

  /** Stopped from outside the exchange: by an operator, or by the node shutting down. */
  static ProxyFailure cancelled(CancelledBy by) {
    return new ProxyFailure(CANCELLED, "Request cancelled", 503, "The request was cancelled ("
        + by.label() + ") before the upstream answered; whether the upstream acted on it is unknown")
        .cancelledBy(by);
  }

  static ProxyFailure upstreamSilent(long millis) {
    return new ProxyFailure("upstream-silent", "Upstream silent", 504,
        "The upstream sent nothing for " + millis + " ms (this route's idleTimeout) and was taken for hung");
  }

  static ProxyFailure clientGone() {
    return new ProxyFailure("client-closed", "Client closed the connection", 499,
        "The client went away before the answer was sent").cancelledBy(CancelledBy.CLIENT);
  }

  static ProxyFailure unreachable(String upstream, Throwable cause) {
    return new ProxyFailure("upstream-unreachable", "Upstream unreachable", 502,
        "Could not forward to " + upstream + ": " + cause.getMessage());
  }

  static ProxyFailure eventsUnavailable(String reason) {
    return new ProxyFailure("events-unavailable", "Request cannot be recorded", 503,
        "This route records every request before forwarding it, and the event store cannot record now: " + reason);
  }

  static ProxyFailure resourceBusy(String resource) {
    return new ProxyFailure("resource-busy", "Resource busy", 503,
        "Another request held " + resource + " until this request's deadline; retry shortly");
  }

  static ProxyFailure locksUnavailable(String reason) {
    return new ProxyFailure("locks-unavailable", "Resource lock unavailable", 503,
        "This route locks its resource before forwarding, and no lock could be taken: " + reason);
  }

  static ProxyFailure eventsBacklog(int backlog) {
    return new ProxyFailure("events-backlog", "Too many requests waiting to be recorded", 503,
        "More than " + backlog + " request events are waiting to be written; retry shortly");
  }

  /** The failure a cause met while forwarding stands for. */
  static ProxyFailure classify(Throwable cause, RouteConfig route) {
    if (cause instanceof ProxyFailure known) {
      return known;
    }
    if (cause instanceof ConnectException || cause instanceof ConnectTimeoutException) {
      return unreachable(route.upstream().toString(), cause);
    }
    return new ProxyFailure("upstream-failed", "Upstream failed", 502,
        "The upstream " + route.upstream() + " closed or reset the exchange: " + cause);
  }

  /** True when the upstream was never asked: the request can run again without being a duplicate. */
  static boolean neverReachedUpstream(Throwable cause) {
    return cause instanceof ConnectException || cause instanceof ConnectTimeoutException
        || (cause instanceof ProxyFailure known && known.status() == 503 && known.cancelledBy == null);
  }

  /** Who stopped the request, when this failure is a cancellation rather than a failure. */
  Optional<CancelledBy> cancelledBy() {
    return Optional.ofNullable(cancelledBy);
  }

  private ProxyFailure cancelledBy(CancelledBy by) {
    cancelledBy = by;
    return this;
  }

  /**
   * Answers with this problem. The response may already hold an upstream's status line and headers
   * (Content-Length, Content-Encoding, Set-Cookie...); sent with the problem's body they would
   * misframe or mislabel it, so the head starts again from the gateway's own.
   */
  void sendAfresh(HttpServerResponse response, String requestId) {
    response.headers().clear();
    response.putHeader(ForwardedHeaders.REQUEST_ID, requestId)
        .setStatusCode(status)
        .setStatusMessage(HttpResponseStatus.valueOf(status).reasonPhrase());
    if (retryAfterSeconds > 0) {
      response.putHeader("Retry-After", Long.toString(retryAfterSeconds));
    }
    toProblem(requestId).send(response);
  }

  /** Tells the client when trying again makes sense. */
  ProxyFailure retryAfter(long seconds) {
    retryAfterSeconds = seconds;
    return this;
  }

  /** Names the earlier attempt that is still running, whose answer a retry will get. */
  ProxyFailure runningRequest(String requestId) {
    runningRequestId = requestId;
    return this;
  }

  Problem toProblem(String requestId) {
    Problem problem = Problem.of(slug, title, status, getMessage(), requestId);
    return runningRequestId == null ? problem : problem.with("runningRequestId", runningRequestId);
  }

  int status() {
    return status;
  }
}
