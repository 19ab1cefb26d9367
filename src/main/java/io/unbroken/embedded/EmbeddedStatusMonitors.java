package io.unbroken.embedded;

import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.zombie.StatusMonitors;
import io.vertx.core.Future;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Status monitors in this process, for the embedded default where one JVM is the whole cluster. */
public final class EmbeddedStatusMonitors implements StatusMonitors {

  private record Entry(Monitor monitor, Duration keep, long heardUntil, long expiresAt) {}

  private final InstantSource clock;
  private final Map<String, Entry> monitors = new HashMap<>();

  public EmbeddedStatusMonitors(InstantSource clock) {
    this.clock = clock;
  }

  @Override
  public synchronized Future<Void> open(String requestId, String node, Duration heartbeat, Duration keep) {
    long now = clock.millis();
    monitors.put(requestId, new Entry(new Monitor(requestId, node, State.RUNNING, heartbeat, Optional.empty(), ""),
        keep, now + heartbeat.toMillis(), now + keep.toMillis()));
    return Future.succeededFuture();
  }

  @Override
  public synchronized Future<Optional<Monitor>> poll(String requestId) {
    long now = clock.millis();
    Entry entry = monitors.get(requestId);
    if (entry == null || entry.expiresAt() <= now) {
      return Future.succeededFuture(Optional.empty());
    }
    Monitor monitor = entry.monitor();
    if (monitor.state() == State.RUNNING && entry.heardUntil() > now) {
      monitors.put(requestId, new Entry(monitor, entry.keep(), now + monitor.heartbeat().toMillis(),
          Math.max(entry.expiresAt(), now + entry.keep().toMillis())));
    }
    return Future.succeededFuture(Optional.of(monitor));
  }

  @Override
  public synchronized Future<Boolean> heard(String requestId) {
    Entry entry = monitors.get(requestId);
    return Future.succeededFuture(entry != null && entry.heardUntil() > clock.millis());
  }

  @Override
  public Future<Void> answered(String requestId, StoredAnswer answer) {
    return settle(requestId, State.ANSWERED, Optional.of(answer), "");
  }

  @Override
  public Future<Void> ended(String requestId, String reason) {
    return settle(requestId, State.ENDED, Optional.empty(), reason);
  }

  private synchronized Future<Void> settle(String requestId, State state, Optional<StoredAnswer> answer,
      String reason) {
    Entry entry = monitors.get(requestId);
    if (entry != null && entry.monitor().state() == State.RUNNING) {
      Monitor running = entry.monitor();
      monitors.put(requestId, new Entry(new Monitor(requestId, running.node(), state, running.heartbeat(), answer,
          reason), entry.keep(), entry.heardUntil(), clock.millis() + entry.keep().toMillis()));
    }
    return Future.succeededFuture();
  }

  @Override
  public synchronized Future<Integer> purgeExpired() {
    long now = clock.millis();
    int before = monitors.size();
    monitors.values().removeIf(entry -> entry.expiresAt() <= now);
    return Future.succeededFuture(before - monitors.size());
  }
}
