package io.unbroken.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many client connections the node holds at once, over all its event loops
 * ({@code server.maxConnections}): one past the bound is closed as soon as it is accepted, so a
 * flood of slow or idle connections costs the node a count, not its memory and file descriptors.
 */
public final class ConnectionGate {

  private final int max;
  private final AtomicInteger open = new AtomicInteger();
  private final Counter refused;
  private final Counter headTimeouts;

  public ConnectionGate(int max, MeterRegistry registry) {
    this.max = max;
    Gauge.builder("unbroken.connections.open", open, AtomicInteger::get)
        .description("Client connections open on the gateway listener")
        .register(registry);
    refused = closedCounter(registry, "limit");
    headTimeouts = closedCounter(registry, "head-timeout");
  }

  private static Counter closedCounter(MeterRegistry registry, String reason) {
    return Counter.builder("unbroken.connections.closed")
        .description("Client connections the gateway closed before serving them")
        .tag("reason", reason)
        .register(registry);
  }

  /** Counts a new connection in, or refuses it when the node already holds {@code max}. */
  boolean admit() {
    if (open.incrementAndGet() > max) {
      open.decrementAndGet();
      refused.increment();
      return false;
    }
    return true;
  }

  void left() {
    open.decrementAndGet();
  }

  void headTimedOut() {
    headTimeouts.increment();
  }
}
