package io.unbroken.admin;

import io.unbroken.events.EventStore;
import io.unbroken.events.RequestLifecycle.Status;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.gateway.Problem;
import io.unbroken.zombie.ClusterInflight;
import io.unbroken.zombie.InflightRegistry.CancelledBy;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;

/**
 * The requests in flight on every live node, and cancelling one of them from any node: the node
 * that runs it resets its upstream call, answers its client with a problem and records
 * {@code RequestCancelled} by {@code operator}.
 */
final class InflightApi {

  private static final Set<Status> ENDED =
      Set.of(Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.ABANDONED, Status.REPLAYED);

  private final ClusterInflight cluster;
  private final EventStore store;

  InflightApi(ClusterInflight cluster, EventStore store) {
    this.cluster = cluster;
    this.store = store;
  }

  void mount(Router router) {
    router.get("/admin/inflight").handler(this::list);
    router.delete("/admin/requests/:id").handler(this::cancel);
  }

  private void list(RoutingContext ctx) {
    cluster.list(Optional.ofNullable(ctx.queryParams().get("node")))
        .onSuccess(json -> ctx.response().putHeader("Content-Type", "application/json").end(json.encodePrettily()))
        .onFailure(failure -> unavailable(ctx, failure));
  }

  private void cancel(RoutingContext ctx) {
    String requestId = ctx.pathParam("id");
    cluster.cancel(requestId, CancelledBy.OPERATOR)
        .compose(cancellation -> cancellation.node().isPresent()
            ? Future.succeededFuture(accepted(requestId, cancellation.node().get()))
            : notRunning(requestId, cancellation))
        .onSuccess(answer -> answer.send(ctx))
        .onFailure(failure -> unavailable(ctx, failure));
  }

  private Future<Answer> notRunning(String requestId, ClusterInflight.Cancellation cancellation) {
    return store.readStream(RequestLifecycle.streamOf(requestId), 1, Instant.MAX).map(events -> {
      Status status = RequestLifecycle.fold(events);
      if (ENDED.contains(status)) {
        return new Answer(Problem.of("request-finished", "Request already finished", 409,
            "Request " + requestId + " is no longer in flight: it ended " + status.label(), null));
      }
      if (!cancellation.unreachable().isEmpty()) {
        return new Answer(Problem.of("nodes-unreachable", "Nodes unreachable", 503, "Request " + requestId
            + " is not in flight on any node that answered; these did not: " + cancellation.unreachable(), null));
      }
      return new Answer(Problem.of("request-not-found", "Request not found", 404, "No live node has request "
          + requestId + " in flight" + (events.isEmpty() ? ", and no events of it are recorded" : ""), null));
    });
  }

  private static Answer accepted(String requestId, String node) {
    return new Answer(new JsonObject().put("requestId", requestId).put("node", node).put("cancelledBy", "operator"));
  }

  private static void unavailable(RoutingContext ctx, Throwable failure) {
    Problem.of("inflight-unavailable", "In-flight requests unavailable", 503,
        "The live nodes could not be listed: " + failure.getMessage(), null).send(ctx.response());
  }

  /** A 202 with what was cancelled where, or a problem. */
  private record Answer(JsonObject accepted, Problem problem) {
    Answer(JsonObject accepted) {
      this(accepted, null);
    }

    Answer(Problem problem) {
      this(null, problem);
    }

    void send(RoutingContext ctx) {
      if (problem != null) {
        problem.send(ctx.response());
      } else {
        ctx.response().setStatusCode(202).putHeader("Content-Type", "application/json").end(accepted.encodePrettily());
      }
    }
  }
}
