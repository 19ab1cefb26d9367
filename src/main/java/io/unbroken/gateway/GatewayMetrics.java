package io.unbroken.gateway;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's own meters: requests by route, status and outcome, and upstream latency (time to
 * the upstream's response headers) as a histogram per route. Meters are looked up once and cached
 * so that recording on the request path allocates nothing.
 */
public final class GatewayMetrics {

  /** How a request ended. */
  enum Outcome { FORWARDED, REPLAYED, REJECTED, TIMED_OUT, CLIENT_GONE, UPSTREAM_FAILED, NOT_READY, CANCELLED, MONITOR, SAGA }

  private static final String NO_ROUTE = "none";

  private final MeterRegistry registry;
  private static final int OUTCOMES = Outcome.values().length;
  private static final int STATUSES = 600;

  private final Map<String, Counter[]> requests = new ConcurrentHashMap<>();
  private final Map<String, Timer> latencies = new ConcurrentHashMap<>();

  public GatewayMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  void request(String route, int status, Outcome outcome) {
    String tag = route == null ? NO_ROUTE : route;
    Counter[] counters = requests.computeIfAbsent(tag, r -> new Counter[STATUSES * OUTCOMES]);
    int slot = Math.floorMod(status, STATUSES) * OUTCOMES + outcome.ordinal();
    Counter counter = counters[slot];
    if (counter == null) {
      // A racing thread may register the same meter; the registry hands both the same one.
      counter = Counter.builder("unbroken.requests")
          .description("Requests answered by the gateway")
          .tag("route", tag)
          .tag("status", Integer.toString(status))
          .tag("outcome", outcome.name().toLowerCase(Locale.ROOT))
          .register(registry);
      counters[slot] = counter;
    }
    counter.increment();
  }

  void upstreamLatency(String route, long nanos) {
    latencies.computeIfAbsent(route, r -> Timer.builder("unbroken.upstream.latency")
        .description("Time from forwarding a request to the upstream's response headers")
        .tag("route", r)
        .publishPercentileHistogram()
        .register(registry)).record(nanos, TimeUnit.NANOSECONDS);
  }
}
