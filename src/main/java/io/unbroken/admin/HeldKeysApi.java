package io.unbroken.admin;

import io.unbroken.events.EventStore;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.gateway.Problem;
import io.unbroken.idempotency.Idempotency;
import io.vertx.core.Future;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * An operator's way out of {@code unknown: hold}: once they found out what became of an attempt
 * whose outcome nobody knew, {@code DELETE /admin/requests/{id}/idempotency-key} frees its key, so
 * the client's next retry runs again. The key is found in the request's recorded events.
 */
final class HeldKeysApi {

  private final EventStore store;
  private final Idempotency idempotency;

  HeldKeysApi(EventStore store, Idempotency idempotency) {
    this.store = store;
    this.idempotency = idempotency;
  }

  void mount(Router router) {
    router.delete("/admin/requests/:id/idempotency-key").handler(this::free);
  }

  private void free(RoutingContext ctx) {
    String requestId = ctx.pathParam("id");
    store.readStream(RequestLifecycle.streamOf(requestId), 1, Instant.MAX)
        .map(HeldKeysApi::scopeOf)
        .compose(scope -> scope.isEmpty()
            ? Future.succeededFuture(Problem.of("idempotency-key-not-found", "No Idempotency-Key recorded", 404,
                "No events of request " + requestId + " name an Idempotency-Key (a route with events: off"
                + " records none)", null))
            : idempotency.forgetUnknown(scope.get()).map(freed -> freed ? null
                : Problem.of("idempotency-key-not-held", "Idempotency-Key not held", 409, "The key of request "
                    + requestId + " is not kept as an unknown outcome: it is in flight, answered, expired or"
                    + " free already", null)))
        .onSuccess(problem -> {
          if (problem == null) {
            ctx.response().setStatusCode(204).end();
          } else {
            problem.send(ctx.response());
          }
        })
        .onFailure(failure -> Problem.of("idempotency-unavailable", "Idempotency store unavailable", 503,
            String.valueOf(failure.getMessage()), null).send(ctx.response()));
  }

  private static Optional<String> scopeOf(List<RecordedEvent> events) {
    return events.stream().filter(event -> event.type().equals(RequestLifecycle.ACCEPTED))
        .map(event -> event.data().getString("idempotencyScope")).filter(scope -> scope != null).findFirst();
  }
}
