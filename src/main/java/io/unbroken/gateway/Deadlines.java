package io.unbroken.gateway;

import io.unbroken.config.RouteConfig;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Route timeouts without a timer per request. A route's timeout is fixed, so its deadlines arrive
 * in the order requests started: each route keeps its armed exchanges in a doubly linked list
 * (arm appends, disarm unlinks, both O(1) and allocation-free), and one periodic sweep per event
 * loop expires the heads that are due. A deadline fires at most one sweep interval late.
 * Confined to one event loop: no locking.
 */
final class Deadlines {

  /** Something with a deadline; the links live in the object itself so arming allocates nothing. */
  abstract static class Armed {
    private Armed previous;
    private Armed next;
    private Lane lane;
    private long deadlineNanos;

    /** Called on the event loop when the deadline passed before {@link #disarm(Armed)}. */
    abstract void expire();

    /** When this expires, on the {@link System#nanoTime()} scale. */
    long deadlineNanos() {
      return deadlineNanos;
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

  private final Map<RouteConfig, Lane> lanes = new IdentityHashMap<>();

  Deadlines(List<RouteConfig> routes) {
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
    Lane lane = lanes.get(route);
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
