package io.unbroken.gateway;

import com.google.common.collect.Lists;
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
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
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
  // Rows gathering behind requests go to the writer in units of at most this many, however long the wait.
  private static final int MAX_ROWS_PER_UNIT = 1000;

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

  private final Vertx vertx;
  private final EventStore store;
  private final String nodeId;
  private final int asyncBacklog;
  private final Duration writeBehind;
  private final AtomicInteger asyncPending = new AtomicInteger();
  private final Counter unrecorded;
  private final Queue<SideRow> pendingRows = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean rowsFlushQueued = new AtomicBoolean();
  private final AtomicInteger pendingRowCount = new AtomicInteger();

  /**
   * @param writeBehind how long rows without events gather before they go to the writer together:
   *     nobody waits for them, so many requests' rows share one unit and one commit
   */
  public RequestJournal(Vertx vertx, EventStore store, String nodeId, int asyncBacklog, Duration writeBehind,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.store = store;
    this.nodeId = nodeId;
    this.asyncBacklog = asyncBacklog;
    this.writeBehind = writeBehind;
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
   * idempotency answer). On a route without events the rows are written alone; either way, for
   * {@code sync} the future completes after the commit.
   */
  Future<Void> close(Entry entry, String type, JsonObject data, List<SideRow> rows) {
    if (entry.route.events() == EventsMode.OFF) {
      return rows.isEmpty() ? Future.succeededFuture() : keep(rows);
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

  /** Writes rows without an event, behind the request: its route records no events. */
  private Future<Void> keep(List<SideRow> rows) {
    pendingRows.addAll(rows);
    int pending = pendingRowCount.addAndGet(rows.size());
    if (pending >= MAX_ROWS_PER_UNIT && pending - rows.size() < MAX_ROWS_PER_UNIT) {
      // A full unit need not wait for the window; the window's timer stays, for the rows after it.
      vertx.runOnContext(v -> sendRows());
    } else if (rowsFlushQueued.compareAndSet(false, true)) {
      if (writeBehind.isZero()) {
        vertx.runOnContext(v -> flushRows());
      } else {
        vertx.setTimer(writeBehind.toMillis(), t -> flushRows());
      }
    }
    return Future.succeededFuture();
  }

  /** Sends the rows still gathering to the writer now (a graceful stop); completes once they are written. */
  Future<Void> flushRows() {
    rowsFlushQueued.set(false);
    return sendRows();
  }

  private Future<Void> sendRows() {
    List<SideRow> rows = new ArrayList<>();
    for (SideRow row = pendingRows.poll(); row != null; row = pendingRows.poll()) {
      rows.add(row);
    }
    pendingRowCount.addAndGet(-rows.size());
    List<Future<Void>> written = new ArrayList<>();
    for (List<SideRow> unit : Lists.partition(rows, MAX_ROWS_PER_UNIT)) {
      written.add(store.append(StreamAppend.rowsOnly(RequestLifecycle.ROWS_STREAM, unit))
          .<Void>mapEmpty()
          .recover(failure -> {
            unrecorded.increment(unit.size());
            log.error("{} rows of requests without events not recorded: {}", unit.size(), failure.getMessage());
            return Future.succeededFuture();
          }));
    }
    return Future.join(written).mapEmpty();
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
