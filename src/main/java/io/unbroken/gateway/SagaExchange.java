package io.unbroken.gateway;

import io.unbroken.config.ConfigLoader;
import io.unbroken.config.SagaConfig;
import io.unbroken.gateway.GatewayMetrics.Outcome;
import io.unbroken.saga.SagaClient;
import io.unbroken.saga.SagaStatus;
import io.vertx.core.Future;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.util.Optional;

/**
 * A {@code POST} to a saga's path: the JSON body is the saga's input and the request id its id.
 * The client gets the saga's end if it comes within the saga's {@code timeout}: 200 completed,
 * 409 compensated, 502 in review; else 202 with {@code Location: /unbroken/sagas/{id}} on this
 * listener, where a {@code GET} answers 202 while the saga runs and then as the start would have.
 * Every answer names the saga in {@code X-Saga-Id}.
 */
final class SagaExchange {

  private static final long MAX_INPUT = 1024 * 1024;
  private static final String SAGA_ID = "X-Saga-Id";

  private final SagaClient sagas;
  private final GatewayMetrics metrics;

  SagaExchange(SagaClient sagas, GatewayMetrics metrics) {
    this.sagas = sagas;
    this.metrics = metrics;
  }

  void run(HttpServerRequest request, SagaConfig saga, String requestId) {
    HttpServerResponse response = request.response();
    if (request.method() != HttpMethod.POST) {
      response.putHeader("Allow", "POST");
      end(saga.path(), Problem.of("method-not-allowed", "Method not allowed", 405,
          "A POST to " + saga.path() + " starts a " + saga.name() + " saga", requestId), response);
      return;
    }
    WholeBody.read(request, response, MAX_INPUT)
        .compose(body -> {
          Object input;
          try {
            input = body.length() == 0 ? null : body.toJsonValue();
          } catch (DecodeException e) {
            input = null;
          }
          if (!(input instanceof JsonObject object)) {
            return Future.succeededFuture(Problem.of("saga-input-invalid", "Saga input invalid", 400,
                "The body must be a JSON object: it is the " + saga.name() + " saga's input", requestId));
          }
          response.putHeader(SAGA_ID, requestId);
          return sagas.start(saga, requestId, object, requestId).<Object>map(ended -> ended)
              .recover(failure -> Future.succeededFuture(unfinished(failure, saga, requestId)));
        })
        .recover(failure -> Future.succeededFuture(failure instanceof ProxyFailure tooLarge
            ? tooLarge.toProblem(requestId) : Problem.of("saga-input-unreadable", "Saga input unreadable", 400,
                String.valueOf(failure.getMessage()), requestId)))
        .onSuccess(answer -> {
          if (answer instanceof Problem problem) {
            end(saga.path(), problem, response);
          } else if (answer instanceof JsonObject ended) {
            ended(saga.path(), ended, requestId, requestId, response);
          } else {
            running(saga.path(), requestId, response);
          }
        });
  }

  /** The path where a client follows a saga: a saga id, or empty when the path is not one. */
  static Optional<String> followedId(String path) {
    String prefix = ConfigLoader.SAGA_MONITORS + "/";
    return path.startsWith(prefix) && path.length() > prefix.length() && path.indexOf('/', prefix.length()) < 0
        ? Optional.of(path.substring(prefix.length())) : Optional.empty();
  }

  /** {@code GET /unbroken/sagas/{id}}: 202 while the saga runs, then its end as a start within its timeout answers it. */
  void follow(HttpServerRequest request, String sagaId, String requestId) {
    HttpServerResponse response = request.response();
    String path = ConfigLoader.SAGA_MONITORS;
    if (request.method() != HttpMethod.GET && request.method() != HttpMethod.HEAD) {
      response.putHeader("Allow", "GET, HEAD");
      end(path, Problem.of("method-not-allowed", "Method not allowed", 405, "A saga is followed with GET", requestId),
          response);
      return;
    }
    response.putHeader(SAGA_ID, sagaId);
    sagas.find(sagaId)
        .onSuccess(found -> {
          if (found.isEmpty()) {
            end(path, Problem.of("saga-not-found", "Saga not found", 404, "No saga " + sagaId, requestId), response);
          } else if (SagaStatus.parse(found.get().getString("status")).map(SagaStatus::active).orElse(false)) {
            running(path, sagaId, response);
          } else {
            ended(path, found.get(), sagaId, requestId, response);
          }
        })
        .onFailure(failure -> end(path, Problem.of("sagas-unavailable", "Saga log unavailable", 503,
            String.valueOf(failure.getMessage()), requestId), response));
  }

  private void running(String path, String sagaId, HttpServerResponse response) {
    String location = ConfigLoader.SAGA_MONITORS + "/" + sagaId;
    response.setStatusCode(202).putHeader("Location", location).putHeader("Retry-After", "1")
        .putHeader("Content-Type", "application/json")
        .end(new JsonObject().put("sagaId", sagaId).put("status", "running").put("follow", location).encodePrettily());
    metrics.request(path, 202, Outcome.SAGA);
  }

  /** The saga goes on past the client's wait (null), or could not be started (a problem). */
  private static Problem unfinished(Throwable failure, SagaConfig saga, String requestId) {
    if (failure instanceof ReplyException reply && reply.failureType() == ReplyFailure.TIMEOUT) {
      return null;
    }
    return Problem.of("saga-not-started", "Saga not started", 503,
        "The " + saga.name() + " saga could not be recorded, so it did not begin: " + failure.getMessage(), requestId);
  }

  private void ended(String path, JsonObject ended, String sagaId, String requestId, HttpServerResponse response) {
    String status = ended.getString("status");
    if ("completed".equals(status)) {
      response.setStatusCode(200).putHeader("Content-Type", "application/json")
          .end(completed(ended, sagaId).encodePrettily());
      metrics.request(path, 200, Outcome.SAGA);
      return;
    }
    boolean compensated = "compensated".equals(status);
    Problem problem = (compensated
        ? Problem.of("saga-compensated", "Saga compensated", 409, "Step " + ended.getString("failedStep")
            + " failed (" + ended.getString("reason") + "); the steps before it were undone", requestId)
        : Problem.of("saga-needs-review", "Saga needs review", 502, ended.getString("reason")
            + "; the saga waits in the review queue", requestId))
        .with("sagaId", sagaId).with("sagaStatus", status).with("failedStep", ended.getString("failedStep"));
    end(path, problem, response);
  }

  /**
   * What the client of a completed saga gets: each step's answer body, by step name. The services'
   * headers and the saga's bookkeeping stay on the admin API.
   */
  private static JsonObject completed(JsonObject ended, String sagaId) {
    JsonObject steps = new JsonObject();
    ended.getJsonArray("steps").forEach(step -> {
      JsonObject shown = (JsonObject) step;
      steps.put(shown.getString("name"), shown.getJsonObject("action").getJsonObject("response").getValue("body"));
    });
    return new JsonObject().put("sagaId", sagaId).put("status", "completed").put("steps", steps);
  }

  private void end(String path, Problem problem, HttpServerResponse response) {
    problem.send(response);
    metrics.request(path, problem.status(), Outcome.SAGA);
  }
}
