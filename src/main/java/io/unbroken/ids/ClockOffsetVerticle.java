package io.unbroken.ids;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures on every heartbeat how far each store's clock is from this node's wall clock: the
 * store's time minus this node's at the midpoint of the round trip (off by at most half of it).
 * Stores judge every lease and expiry by their own clocks, so an offset breaks no guarantee; it
 * does skew what this node stamps by itself (ids, hybrid clock values), so a node further off
 * than {@code node.maxClockOffset} reports itself not ready and says so in its log, once each time
 * it crosses the bound either way. It keeps serving: ids and leases work through any step.
 */
public final class ClockOffsetVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(ClockOffsetVerticle.class);

  private final List<StoreClock> stores;
  private final InstantSource wallClock;
  private final Duration maxOffset;
  private final Duration heartbeat;
  private final Map<String, Duration> offsets = new ConcurrentHashMap<>();
  private final Map<String, Boolean> beyondBound = new ConcurrentHashMap<>();
  private long timerId = -1;
  private boolean measuring;

  public ClockOffsetVerticle(List<StoreClock> stores, InstantSource wallClock, Duration maxOffset, Duration heartbeat,
      MeterRegistry registry) {
    this.stores = stores;
    this.wallClock = wallClock;
    this.maxOffset = maxOffset;
    this.heartbeat = heartbeat;
    for (StoreClock store : stores) {
      Gauge.builder("unbroken.clock.offset", offsets, known -> seconds(known.get(store.store())))
          .description("The store's clock minus this node's wall clock, measured on the heartbeat")
          .baseUnit("seconds").tag("store", store.store()).register(registry);
    }
  }

  @Override
  public Future<?> start() {
    return measureAll().onComplete(first -> timerId = vertx.setPeriodic(heartbeat.toMillis(), t -> beat()));
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timerId);
    return Future.succeededFuture();
  }

  /**
   * For {@code /health/ready}: the offsets measured last, or a failure naming each store further
   * off than the bound. A store not measured yet (unreachable) is left to its own check.
   */
  public Future<JsonObject> check() {
    JsonObject shown = new JsonObject();
    StringBuilder beyond = new StringBuilder();
    offsets.forEach((store, offset) -> {
      shown.put(store + "OffsetSeconds", seconds(offset));
      if (tooFar(offset)) {
        beyond.append(beyond.isEmpty() ? "" : "; ").append(describe(store, offset));
      }
    });
    return beyond.isEmpty() ? Future.succeededFuture(shown) : Future.failedFuture(beyond.toString());
  }

  private void beat() {
    if (measuring) {
      return; // a store has not answered the last beat yet
    }
    measuring = true;
    measureAll().onComplete(done -> measuring = false);
  }

  private Future<Void> measureAll() {
    return Future.join(stores.stream().map(this::measure).toList()).<Void>mapEmpty().otherwiseEmpty();
  }

  private Future<Duration> measure(StoreClock store) {
    long sentNanos = System.nanoTime();
    Instant sentAt = wallClock.instant();
    return store.read()
        .timeout(heartbeat.toMillis(), TimeUnit.MILLISECONDS)
        .map(storeTime -> Duration.between(sentAt.plusNanos((System.nanoTime() - sentNanos) / 2), storeTime))
        .onSuccess(offset -> record(store.store(), offset));
  }

  private void record(String store, Duration offset) {
    offsets.put(store, offset);
    boolean far = tooFar(offset);
    Boolean wasFar = beyondBound.put(store, far);
    if (far && !Boolean.TRUE.equals(wasFar)) {
      log.warn("Not ready: {}; ids and hybrid clock values stamped here are skewed until this node's time is"
          + " synchronised", describe(store, offset));
    } else if (!far && Boolean.TRUE.equals(wasFar)) {
      log.info("Clock offset to {} is back within node.maxClockOffset: {}", store, format(offset));
    }
  }

  private boolean tooFar(Duration offset) {
    return offset.abs().compareTo(maxOffset) > 0;
  }

  private String describe(String store, Duration offset) {
    return "clock offset to " + store + " is " + format(offset) + ", more than node.maxClockOffset ("
        + seconds(maxOffset) + " s)";
  }

  private static String format(Duration offset) {
    return String.format(Locale.ROOT, "%+.3f s", seconds(offset));
  }

  private static double seconds(Duration offset) {
    return offset == null ? Double.NaN : offset.toNanos() / 1e9;
  }
}
