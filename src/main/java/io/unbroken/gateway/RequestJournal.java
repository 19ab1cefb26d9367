package io.unbroken.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.RouteConfig;
import io.unbroken.events.EventStore;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.unbroken.zombie.InflightRequest;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records each request's life in the event store as its route asks ({@code events: sync | async | off}).
 *
 * <p>{@code sync}: the request is forwarded only once its accepted-and-forwarded events are
 * committed (a store that cannot record it means 503, never an unrecorded forward), and the
 * upstream's answer goes to the client only once its completion is committed. {@code async}: the
 * same events, written behind the request; at most {@code asyncBacklog} appends may wait, past
 * that new requests are shed with 503 rather than their events dropped. A terminal event that
 * cannot be written is logged and counted, never silently lost.
 */
public final class RequestJournal {

  private static final Logger log = LoggerFactory.getLogger(RequestJournal.class);

  /** One request's journal entries; {@code opened} completes when its first append did. */
  static final class Entry {
    private final String requestId;
    private final RouteConfig route;
    private final Future<?> opened;

    private Entry(String requestId, RouteConfig route, Future<?> opened) {
      this.requestId = requestId;
      this.route = route;
      this.opened = opened;
    }
  }

  private final EventStore store;
  private final String nodeId;
  private final int asyncBacklog;
  private final AtomicInteger asyncPending = new AtomicInteger();
  private final Counter unrecorded;

  public RequestJournal(EventStore store, String nodeId, int asyncBacklog, MeterRegistry registry) {
    this.store = store;
    this.nodeId = nodeId;
    this.asyncBacklog = asyncBacklog;
    this.unrecorded = Counter.builder("unbroken.events.unrecorded")
        .description("Request lifecycle events that could not be written").register(registry);
  }

  /**
   * Records that the request was accepted and is being forwarded. The future fails with a
   * {@link ProxyFailure} (503) when the request must not be forwarded.
   */
  Future<Entry> open(InflightRequest inflight, RouteConfig route, Supplier<JsonObject> request) {
    String requestId = inflight.requestId();
    if (route.events() == EventsMode.OFF) {
      return Future.succeededFuture(new Entry(requestId, route, Future.succeededFuture()));
    }
    // A sync request is durably in flight from its first events to its last, for the reaper to end if its node dies.
    StreamAppend append = new StreamAppend(RequestLifecycle.streamOf(requestId), ExpectedVersion.NO_STREAM,
        List.of(event(RequestLifecycle.ACCEPTED, request.get(), requestId),
            event(RequestLifecycle.FORWARDED, new JsonObject().put("upstream", route.upstream().toString()), requestId)),
        route.events() == EventsMode.SYNC ? List.of(inflight.row()) : List.of());
    if (route.events() == EventsMode.SYNC) {
      return store.append(append)
          .map(result -> new Entry(requestId, route, Future.succeededFuture()))
          .recover(failure -> Future.failedFuture(ProxyFailure.eventsUnavailable(failure.getMessage())));
    }
    if (asyncPending.incrementAndGet() > asyncBacklog) {
      asyncPending.decrementAndGet();
      return Future.failedFuture(ProxyFailure.eventsBacklog(asyncBacklog));
    }
    Future<?> opened = store.append(append).onComplete(done -> asyncPending.decrementAndGet());
    return Future.succeededFuture(new Entry(requestId, route, opened));
  }

  /**
   * Records how the request ended. For {@code sync} the future completes after the commit; it never
   * fails (an event that cannot be written is logged and counted, and the client still gets its answer).
   */
  Future<Void> close(Entry entry, String type, JsonObject data) {
    return close(entry, type, data, List.of());
  }

  /**
   * Records how the request ended, with rows that commit in the same transaction (a durable
   * idempotency answer); for {@code sync} the future completes after the commit. A route without
   * events records nothing here, rows included: whoever has rows to write there writes them itself.
   */
  Future<Void> close(Entry entry, String type, JsonObject data, List<SideRow> rows) {
    if (entry.route.events() == EventsMode.OFF) {
      return Future.succeededFuture();
    }
    List<SideRow> written = rows;
    if (entry.route.events() == EventsMode.SYNC) {
      written = new ArrayList<>(rows);
      written.add(InflightRequest.rowRemoval(entry.requestId));
    }
    // Expecting the opening events only: a request the reaper abandoned meanwhile (its node
    // thought dead) keeps that end, and this one is counted as not recorded.
    StreamAppend append = new StreamAppend(RequestLifecycle.streamOf(entry.requestId), ExpectedVersion.exactly(2),
        List.of(event(type, data, entry.requestId)), written);
    // After the opening append, so versions follow the request's life even when batches overlap.
    Future<Void> recorded = entry.opened
        .compose(opened -> store.append(append))
        .<Void>mapEmpty()
        .recover(failure -> {
          unrecorded.increment();
          log.error("{} of request {} not recorded: {}", type, entry.requestId, failure.getMessage());
          return Future.succeededFuture();
        });
    return entry.route.events() == EventsMode.SYNC ? recorded : Future.succeededFuture();
  }

  /**
   * Records a retry answered from a stored answer (accepted, then replayed), behind the answer: the
   * upstream was not asked, so there is nothing to hold the client for.
   */
  void replayed(String requestId, RouteConfig route, Supplier<JsonObject> request, JsonObject replay) {
    if (route.events() == EventsMode.OFF) {
      return;
    }
    store.append(new StreamAppend(RequestLifecycle.streamOf(requestId), ExpectedVersion.NO_STREAM,
            List.of(event(RequestLifecycle.ACCEPTED, request.get(), requestId),
                event(RequestLifecycle.REPLAYED, replay, requestId)), List.of()))
        .onFailure(failure -> {
          unrecorded.increment();
          log.error("Replay of request {} not recorded: {}", requestId, failure.getMessage());
        });
  }

  /** What the accepted event says of a request: built only for routes that record events. */
  static JsonObject describe(HttpServerRequest request, RequestTarget target, RouteConfig route) {
    return new JsonObject().put("method", request.method().name()).put("path", target.path())
        .put("route", route.prefix());
  }

  private NewEvent event(String type, JsonObject data, String requestId) {
    return new NewEvent(type, data, new JsonObject().put("requestId", requestId).put("node", nodeId));
  }
}
