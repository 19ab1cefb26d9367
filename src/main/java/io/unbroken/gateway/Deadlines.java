package io.unbroken.gateway;

import io.unbroken.config.RouteConfig;
import io.vertx.core.Vertx;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Route timeouts without a timer per request. A route's timeout is fixed, so its deadlines arrive
 * in the order requests started: each route keeps its armed exchanges in a doubly linked list
 * (arm appends, disarm unlinks, both O(1) and allocation-free), and one periodic sweep per event
 * loop expires the heads that are due. A deadline fires at most one sweep interval late. A client
 * that sends a shorter deadline of its own ({@code X-Request-Deadline-Ms}) breaks that order, so
 * its exchange gets a timer of its own instead. Confined to one event loop: no locking.
 */
final class Deadlines {

  /** Something with a deadline; the links live in the object itself so arming allocates nothing. */
  abstract static class Armed {
    private Armed previous;
    private Armed next;
    private Lane lane;
    private long deadlineNanos;
    private long timeoutMillis;
    private long timerId = -1;

    /** Called on the event loop when the deadline passed before {@link #disarm(Armed)}. */
    abstract void expire();

    /** When this expires, on the {@link System#nanoTime()} scale. */
    long deadlineNanos() {
      return deadlineNanos;
    }

    /** The time this was given when armed: the route's timeout, or the client's deadline if shorter. */
    long timeoutMillis() {
      return timeoutMillis;
    }

    /** Whole milliseconds left until the deadline, 0 once it passed. */
    long remainingMillis() {
      return Math.max(0, (deadlineNanos - System.nanoTime()) / 1_000_000);
    }
  }

  private static final class Lane {
    private final long timeoutNanos;
    private Armed head;
    private Armed tail;

    Lane(long timeoutNanos) {
      this.timeoutNanos = timeoutNanos;
    }
  }

  private final Vertx vertx;
  private final Map<RouteConfig, Lane> lanes = new IdentityHashMap<>();

  Deadlines(Vertx vertx, List<RouteConfig> routes) {
    this.vertx = vertx;
    for (RouteConfig route : routes) {
      lanes.put(route, new Lane(route.timeout().toNanos()));
    }
  }

  /** How often {@link #expireDue()} should run: a tenth of the shortest timeout, between 1 and 10 ms. */
  static long sweepIntervalMillis(List<RouteConfig> routes) {
    long shortest = routes.stream().mapToLong(route -> route.timeout().toMillis()).min().orElse(1_000);
    return Math.max(1, Math.min(10, shortest / 10));
  }

  void arm(RouteConfig route, Armed armed) {
    arm(route, armed, Long.MAX_VALUE);
  }

  /** Arms the route's timeout, or {@code clientDeadlineMillis} when the client asked for less time. */
  void arm(RouteConfig route, Armed armed, long clientDeadlineMillis) {
    Lane lane = lanes.get(route);
    long routeMillis = lane.timeoutNanos / 1_000_000;
    if (clientDeadlineMillis < routeMillis) {
      armed.timeoutMillis = clientDeadlineMillis;
      armed.deadlineNanos = System.nanoTime() + clientDeadlineMillis * 1_000_000;
      armed.timerId = vertx.setTimer(Math.max(1, clientDeadlineMillis), t -> {
        armed.timerId = -1;
        armed.expire();
      });
      return;
    }
    armed.timeoutMillis = routeMillis;
    armed.lane = lane;
    armed.deadlineNanos = System.nanoTime() + lane.timeoutNanos;
    armed.previous = lane.tail;
    if (lane.tail == null) {
      lane.head = armed;
    } else {
      lane.tail.next = armed;
    }
    lane.tail = armed;
  }

  void disarm(Armed armed) {
    if (armed.timerId >= 0) {
      vertx.cancelTimer(armed.timerId);
      armed.timerId = -1;
    }
    Lane lane = armed.lane;
    if (lane == null) {
      return;
    }
    if (armed.previous == null) {
      lane.head = armed.next;
    } else {
      armed.previous.next = armed.next;
    }
    if (armed.next == null) {
      lane.tail = armed.previous;
    } else {
      armed.next.previous = armed.previous;
    }
    armed.previous = null;
    armed.next = null;
    armed.lane = null;
  }

  void expireDue() {
    long now = System.nanoTime();
    for (Lane lane : lanes.values()) {
      while (lane.head != null && now - lane.head.deadlineNanos >= 0) {
        Armed due = lane.head;
        disarm(due);
        due.expire();
      }
    }
  }
}
