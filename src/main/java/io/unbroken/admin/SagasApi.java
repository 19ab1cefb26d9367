package io.unbroken.admin;

import io.unbroken.events.WrongExpectedVersion;
import io.unbroken.gateway.Problem;
import io.unbroken.saga.SagaReview;
import io.unbroken.saga.SagaStatus;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.Locale;
import java.util.Optional;

/**
 * Sagas for operators: {@code GET /admin/sagas[?status=&after=&limit=]}, {@code /admin/sagas/summary},
 * {@code /admin/sagas/{id}[?asOf=]}, and for a saga in review {@code POST /admin/sagas/{id}/retry},
 * {@code /skip} and {@code /resolve}, each with a JSON body saying why ({@code {"why": "..."}},
 * for resolve {@code {"note": "..."}}) and recorded with who: the {@code X-Operator} header, else
 * the holder of the admin token.
 */
final class SagasApi {

  private static final int MAX_PAGE = 1_000;
  private static final int MAX_BODY = 16 * 1024;

  private final SagaReview review;

  SagasApi(SagaReview review) {
    this.review = review;
  }

  void mount(Router router) {
    router.get("/admin/sagas").handler(this::list);
    router.get("/admin/sagas/summary").handler(ctx -> answer(ctx, review.summary()));
    router.get("/admin/sagas/:id").handler(this::show);
    router.post("/admin/sagas/:id/:action").handler(BodyHandler.create().setBodyLimit(MAX_BODY)).handler(this::act);
  }

  private void list(RoutingContext ctx) {
    String statusText = ctx.queryParams().get("status");
    Optional<SagaStatus> status = statusText == null ? Optional.empty() : SagaStatus.parse(statusText);
    if (statusText != null && status.isEmpty()) {
      badRequest(ctx, "status must be one of running, compensating, completed, compensated, review, resolved");
      return;
    }
    int limit;
    try {
      limit = Integer.parseInt(Optional.ofNullable(ctx.queryParams().get("limit")).orElse("100"));
    } catch (NumberFormatException e) {
      limit = -1;
    }
    if (limit < 1 || limit > MAX_PAGE) {
      badRequest(ctx, "limit must be a whole number from 1 to " + MAX_PAGE);
      return;
    }
    answer(ctx, review.list(status, Optional.ofNullable(ctx.queryParams().get("after")), limit));
  }

  private void show(RoutingContext ctx) {
    AsOf.read(ctx).ifPresent(asOf -> answer(ctx, review.show(ctx.pathParam("id"), asOf)));
  }

  private void act(RoutingContext ctx) {
    String name = ctx.pathParam("action");
    Optional<SagaReview.Action> action = switch (name) {
      case "retry", "skip", "resolve" -> Optional.of(SagaReview.Action.valueOf(name.toUpperCase(Locale.ROOT)));
      default -> Optional.empty();
    };
    if (action.isEmpty()) {
      Problem.of("not-found", "Not found", 404, "No saga action '" + name + "' (retry, skip, resolve)", null)
          .send(ctx.response());
      return;
    }
    String member = action.get() == SagaReview.Action.RESOLVE ? "note" : "why";
    String why;
    try {
      JsonObject body = ctx.body().length() == 0 ? new JsonObject() : ctx.body().asJsonObject();
      why = body.getValue(member) instanceof String text ? text.trim() : "";
    } catch (DecodeException | ClassCastException e) {
      why = "";
    }
    if (why.isEmpty()) {
      badRequest(ctx, "the body must be a JSON object whose \"" + member + "\" says why, e.g. {\"" + member
          + "\": \"refund issued by hand, ticket 4711\"}");
      return;
    }
    String operator = Optional.ofNullable(ctx.request().getHeader("X-Operator")).map(String::trim)
        .filter(text -> !text.isEmpty()).orElse("admin token holder");
    answer(ctx, review.act(ctx.pathParam("id"), action.get(), operator, why));
  }

  private static void answer(RoutingContext ctx, Future<JsonObject> answer) {
    answer.onSuccess(json -> ctx.response().putHeader("Content-Type", "application/json").end(json.encodePrettily()))
        .onFailure(failure -> problem(failure).send(ctx.response()));
  }

  private static Problem problem(Throwable failure) {
    if (failure instanceof SagaReview.NotFound) {
      return Problem.of("saga-not-found", "Saga not found", 404, failure.getMessage(), null);
    }
    if (failure instanceof SagaReview.NotInReview) {
      return Problem.of("saga-not-in-review", "Saga not in review", 409, failure.getMessage(), null);
    }
    if (failure instanceof WrongExpectedVersion) {
      return Problem.of("saga-moved", "Saga moved", 409, "The saga changed while this action was taken; look again",
          null);
    }
    return Problem.of("sagas-unavailable", "Saga store unavailable", 503, String.valueOf(failure.getMessage()), null);
  }

  private static void badRequest(RoutingContext ctx, String detail) {
    Problem.of("bad-request", "Bad request", 400, detail, null).send(ctx.response());
  }
}
