package io.unbroken.admin;

import io.unbroken.events.EventStore;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.gateway.Problem;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Time travel over the event store: a stream's events up to any instant, and a request's timeline
 * with the status it had then.
 */
final class StreamsApi {

  private final EventStore store;

  StreamsApi(EventStore store) {
    this.store = store;
  }

  void mount(Router router) {
    router.get("/admin/streams/:id").handler(this::stream);
    router.get("/admin/requests/:id").handler(this::requestTimeline);
  }

  private void stream(RoutingContext ctx) {
    answer(ctx, ctx.pathParam("id"));
  }

  private void requestTimeline(RoutingContext ctx) {
    answer(ctx, RequestLifecycle.streamOf(ctx.pathParam("id")));
  }

  private void answer(RoutingContext ctx, String streamId) {
    Optional<Instant> read = AsOf.read(ctx);
    if (read.isEmpty()) {
      return;
    }
    Optional<Instant> asOf = read.filter(time -> !time.equals(Instant.MAX));
    store.readStream(streamId, 1, read.get())
        .map(events -> body(streamId, asOf, events))
        .onSuccess(json -> ctx.response().putHeader("Content-Type", "application/json").end(json.encodePrettily()))
        .onFailure(failure -> Problem.of("events-unavailable", "Event store unavailable", 503,
            String.valueOf(failure.getMessage()), null).send(ctx.response()));
  }

  private static JsonObject body(String streamId, Optional<Instant> asOf, List<RecordedEvent> events) {
    JsonArray timeline = new JsonArray();
    for (RecordedEvent event : events) {
      timeline.add(new JsonObject()
          .put("version", event.streamVersion())
          .put("type", event.type())
          .put("recordedAt", event.recordedAt().toString())
          .put("id", Long.toString(event.id()))
          .put("hlc", event.hlc())
          .put("data", event.data())
          .put("metadata", event.metadata()));
    }
    JsonObject body = new JsonObject().put("stream", streamId).put("events", timeline);
    asOf.ifPresent(time -> body.put("asOf", time.toString()));
    if (streamId.startsWith("request-")) {
      body.put("status", RequestLifecycle.fold(events).label());
    }
    return body;
  }
}
