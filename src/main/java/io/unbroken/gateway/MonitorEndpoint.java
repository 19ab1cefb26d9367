package io.unbroken.gateway;

import io.unbroken.config.ConfigLoader;
import io.unbroken.gateway.GatewayMetrics.Outcome;
import io.unbroken.zombie.ClusterInflight;
import io.unbroken.zombie.InflightRegistry.CancelledBy;
import io.unbroken.zombie.StatusMonitors.Monitor;
import io.unbroken.zombie.StatusMonitors;
import io.vertx.core.Future;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Optional;

/**
 * The status monitors of asynchronous requests, on the client listener of every node: {@code GET}
 * is the client's heartbeat and answers 202 while the request runs, then its kept answer; a
 * request that ended without one is a 410 problem saying why. {@code DELETE} cancels the request
 * on whichever node runs it.
 */
final class MonitorEndpoint {

  private final StatusMonitors monitors;
  private final ClusterInflight cluster;
  private final GatewayMetrics metrics;

  MonitorEndpoint(StatusMonitors monitors, ClusterInflight cluster, GatewayMetrics metrics) {
    this.monitors = monitors;
    this.cluster = cluster;
    this.metrics = metrics;
  }

  /** Poll at twice the heartbeat's rate, so one lost poll does not lose the request. */
  static long retryAfterSeconds(Duration heartbeat) {
    return Math.max(1, heartbeat.toSeconds() / 2);
  }

  void handle(HttpServerRequest request, String monitoredId, String requestId) {
    HttpServerResponse response = request.response();
    Future<Void> answered;
    if (request.method() == HttpMethod.GET || request.method() == HttpMethod.HEAD) {
      answered = monitors.poll(monitoredId).compose(monitor -> monitor.isPresent()
          ? show(response, monitor.get())
          : notFound(response, monitoredId, requestId));
    } else if (request.method() == HttpMethod.DELETE) {
      answered = cluster.cancel(monitoredId, CancelledBy.CLIENT).compose(cancellation -> cancellation.node().isPresent()
          ? response.setStatusCode(202).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
              .end(new JsonObject().put("requestId", monitoredId).put("status", "cancelling").encode())
          : monitors.poll(monitoredId).compose(monitor -> monitor.isPresent()
              ? Problem.of("request-finished", "Request already finished", 409, "Request " + monitoredId
                  + " is no longer running; GET its monitor for how it ended", requestId).send(response)
              : notFound(response, monitoredId, requestId)));
    } else {
      response.putHeader(HttpHeaders.ALLOW, "GET, HEAD, DELETE");
      answered = Problem.of("method-not-allowed", "Method not allowed", 405,
          "A status monitor answers GET and DELETE", requestId).send(response);
    }
    answered.onFailure(failure -> {
      if (!response.headWritten()) {
        Problem.of("monitors-unavailable", "Status monitor unavailable", 503,
            "The status monitor could not be read: " + failure.getMessage(), requestId).send(response);
      }
    }).onComplete(done -> metrics.request(null, response.getStatusCode(), Outcome.MONITOR));
  }

  private static Future<Void> show(HttpServerResponse response, Monitor monitor) {
    return switch (monitor.state()) {
      case RUNNING -> response.setStatusCode(202)
          .putHeader("Retry-After", Long.toString(retryAfterSeconds(monitor.heartbeat())))
          .putHeader("Location", AsyncExchange.monitorOf(monitor.requestId()))
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
          .end(new JsonObject().put("requestId", monitor.requestId()).put("status", "running").encode());
      case ANSWERED -> {
        var answer = monitor.answer().orElseThrow();
        response.setStatusCode(answer.status());
        answer.headers().forEach(header -> response.headers().add(header.getKey(), header.getValue()));
        response.headers().set(ForwardedHeaders.REQUEST_ID, monitor.requestId());
        yield response.end(answer.body());
      }
      case ENDED -> Problem.of("request-ended", "Request ended without an answer", 410, "Request "
              + monitor.requestId() + " ended without an answer: " + monitor.reason() + describe(monitor.reason()),
              monitor.requestId())
          .with("reason", monitor.reason()).send(response);
    };
  }

  private static String describe(String reason) {
    return switch (reason) {
      case "client-heartbeat-lost" -> " (its monitor was not polled within the route's async.heartbeat, so it was"
          + " cancelled)";
      case "node-lost" -> " (the node running it stopped)";
      default -> "";
    };
  }

  private static Future<Void> notFound(HttpServerResponse response, String monitoredId, String requestId) {
    return Problem.of("monitor-not-found", "No such status monitor", 404, "No asynchronous request " + monitoredId
        + " is running or kept here; answers are kept for the route's async.keep", requestId).send(response);
  }

  /** The request id in a monitor's path, if the path is one. */
  static Optional<String> monitoredId(String path) {
    String prefix = ConfigLoader.MONITORS + "/";
    if (!path.startsWith(prefix) || path.length() == prefix.length() || path.indexOf('/', prefix.length()) >= 0) {
      return Optional.empty();
    }
    return Optional.of(path.substring(prefix.length()));
  }
}
