package io.unbroken.gateway;

import io.unbroken.config.ConfigLoader;
import io.unbroken.config.SagaConfig;
import io.unbroken.gateway.GatewayMetrics.Outcome;
import io.unbroken.idempotency.IdempotencyKeys;
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
    String key = request.getHeader(IdempotentExchange.IDEMPOTENCY_KEY);
    Optional<String> badKey = key == null ? Optional.empty() : IdempotencyKeys.problemWith(key);
    // With a key, every retry of the start names the same saga, so it finds the one its first attempt began.
    String sagaId = key == null || badKey.isPresent() ? requestId : SagaClient.idForKey(saga, key);
    String token = FollowTokens.next();
    WholeBody.read(request, response, MAX_INPUT)
        .compose(body -> {
          Object input;
          try {
            input = body.length() == 0 ? null : body.toJsonValue();
          } catch (DecodeException e) {
            input = null;
          }
          if (badKey.isPresent()) {
            return Future.succeededFuture(Problem.of("idempotency-key-invalid", "Idempotency-Key invalid", 400,
                badKey.get(), requestId));
          }
          if (!(input instanceof JsonObject object)) {
            return Future.succeededFuture(Problem.of("saga-input-invalid", "Saga input invalid", 400,
                "The body must be a JSON object: it is the " + saga.name() + " saga's input", requestId));
          }
          response.putHeader(SAGA_ID, sagaId);
          return sagas.start(saga, sagaId, object, requestId, token).<Object>map(ended -> ended)
              .recover(failure -> isRetry(failure) ? retried(sagaId, object, requestId, response)
                  : Future.succeededFuture(unfinished(failure, saga, requestId)));
        })
        .recover(failure -> Future.succeededFuture(failure instanceof ProxyFailure tooLarge
            ? tooLarge.toProblem(requestId) : Problem.of("saga-input-unreadable", "Saga input unreadable", 400,
                String.valueOf(failure.getMessage()), requestId)))
        .onSuccess(answer -> {
          if (answer instanceof Problem problem) {
            end(saga.path(), problem, response);
          } else if (answer instanceof JsonObject found && !active(found)) {
            ended(saga.path(), found, sagaId, requestId, response);
          } else if (answer instanceof JsonObject found) {
            running(saga.path(), sagaId, found.getString("followToken"), response);
          } else {
            running(saga.path(), sagaId, token, response);
          }
        });
  }

  private static boolean isRetry(Throwable failure) {
    return failure instanceof ReplyException reply && reply.failureType() == ReplyFailure.RECIPIENT_FAILURE
        && reply.failureCode() == SagaClient.ALREADY_STARTED;
  }

  /**
   * A retried start: the saga its first attempt began, as it stands, or 422
   * when the key came back with another input, as the draft has it for a reused key.
   */
  private Future<Object> retried(String sagaId, JsonObject input, String requestId, HttpServerResponse response) {
    return sagas.find(sagaId).map(found -> {
      JsonObject saga = found.orElseThrow(() -> new IllegalStateException("saga " + sagaId + " started but not found"));
      if (!input.equals(saga.getJsonObject("input"))) {
        return Problem.of("idempotency-key-reused", "Idempotency-Key reused", 422, "This Idempotency-Key started saga "
            + sagaId + " with another input; a new saga needs a new key", requestId);
      }
      response.putHeader(IdempotentExchange.REPLAYED, "true");
      return saga;
    });
  }

  /** A saga a client follows, and the token that shows the start was theirs. */
  record Followed(String sagaId, String token) {}

  /** The saga followed at {@code /unbroken/sagas/{id}/{token}}, or empty when the path is not one. */
  static Optional<Followed> followed(String path) {
    String prefix = ConfigLoader.SAGA_MONITORS + "/";
    if (!path.startsWith(prefix)) {
      return Optional.empty();
    }
    String[] parts = path.substring(prefix.length()).split("/", -1);
    return parts.length == 2 && !parts[0].isEmpty() && !parts[1].isEmpty()
        ? Optional.of(new Followed(parts[0], parts[1])) : Optional.empty();
  }

  /**
   * {@code GET /unbroken/sagas/{id}/{token}}: 202 while the saga runs, then its end as a start
   * within its timeout answers it. Ids are guessable, the token is not: without it the saga, and
   * the answers of the services it called, stay hidden (404, as for no saga at all).
   */
  void follow(HttpServerRequest request, Followed followed, String requestId) {
    String sagaId = followed.sagaId();
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
          if (found.isEmpty() || !FollowTokens.matches(followed.token(), found.get().getString("followToken"))) {
            end(path, Problem.of("saga-not-found", "Saga not found", 404, "No saga " + sagaId + " with this token",
                requestId), response);
          } else if (active(found.get())) {
            running(path, sagaId, followed.token(), response);
          } else {
            ended(path, found.get(), sagaId, requestId, response);
          }
        })
        .onFailure(failure -> end(path, Problem.of("sagas-unavailable", "Saga log unavailable", 503,
            String.valueOf(failure.getMessage()), requestId), response));
  }

  private static boolean active(JsonObject saga) {
    return SagaStatus.parse(saga.getString("status")).map(SagaStatus::active).orElse(false);
  }

  private void running(String path, String sagaId, String token, HttpServerResponse response) {
    String location = ConfigLoader.SAGA_MONITORS + "/" + sagaId + "/" + token;
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
    String failedStep = ended.getString("failedStep");
    String reason = ended.getString("reason");
    Problem problem = (switch (status) {
      case "compensated" -> Problem.of("saga-compensated", "Saga compensated", 409, "Step " + failedStep
          + " failed (" + reason + "); the steps before it were undone", requestId);
      case "resolved" -> Problem.of("saga-resolved", "Saga closed by an operator", 409, "Step " + failedStep
          + " failed (" + reason + "); an operator closed the saga as it stood", requestId);
      default -> Problem.of("saga-needs-review", "Saga needs review", 502, reason
          + "; the saga waits in the review queue", requestId);
    }).with("sagaId", sagaId).with("sagaStatus", status).with("failedStep", failedStep);
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
      JsonObject response = shown.getJsonObject("action").getJsonObject("response");
      steps.put(shown.getString("name"), response == null ? null : response.getValue("body"));
    });
    return new JsonObject().put("sagaId", sagaId).put("status", "completed").put("steps", steps);
  }

  private void end(String path, Problem problem, HttpServerResponse response) {
    problem.send(response);
    metrics.request(path, problem.status(), Outcome.SAGA);
  }
}
