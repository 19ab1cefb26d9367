package io.unbroken.idempotency;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the node's idempotency keys alive: rebuilds the key filter from the durable answers at
 * start, renews the leases of every claim held here on each heartbeat (so a dead node's keys are
 * free within one lease), returns to Redis once it answers again, hears what every node did with
 * its keys, and purges expired answers.
 */
public final class IdempotencyVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(IdempotencyVerticle.class);
  private static final long PURGE_INTERVAL_MS = Duration.ofMinutes(10).toMillis();

  private final Idempotency idempotency;
  private final Duration heartbeat;
  private final Supplier<Future<?>> primaryProbe;
  private MessageConsumer<JsonObject> notices;
  private long heartbeatTimer = -1;
  private long purgeTimer = -1;
  private boolean beating;

  public IdempotencyVerticle(Idempotency idempotency, Duration heartbeat, Supplier<Future<?>> primaryProbe) {
    this.idempotency = idempotency;
    this.heartbeat = heartbeat;
    this.primaryProbe = primaryProbe;
  }

  @Override
  public Future<?> start() {
    notices = vertx.eventBus().consumer(IdempotencyAddresses.KEY_NOTICES, message -> idempotency.onNotices(message.body()));
    long started = System.nanoTime();
    return idempotency.rebuildFilter()
        .onSuccess(keys -> log.info("Key filter rebuilt from {} durable answers in {} ms", keys,
            (System.nanoTime() - started) / 1_000_000))
        .compose(rebuilt -> notices.completion())
        .onSuccess(ready -> {
          heartbeatTimer = vertx.setPeriodic(heartbeat.toMillis(), t -> beat());
          purgeTimer = vertx.setPeriodic(PURGE_INTERVAL_MS, t -> purge());
        });
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(heartbeatTimer);
    vertx.cancelTimer(purgeTimer);
    idempotency.sendNotices();
    return notices.unregister();
  }

  private void beat() {
    if (beating) {
      return; // the last beat is still waiting for a store; leases are long enough to skip one
    }
    beating = true;
    idempotency.heartbeat(primaryProbe)
        .timeout(heartbeat.toMillis(), TimeUnit.MILLISECONDS)
        .onFailure(failure -> log.warn("Claim leases not renewed on this beat: {}", failure.getMessage()))
        .onComplete(done -> beating = false);
  }

  private void purge() {
    idempotency.purgeExpired()
        .onSuccess(purged -> log.debug("{} expired idempotency records purged", purged))
        .onFailure(failure -> log.warn("Purging expired idempotency records failed: {}", failure.getMessage()));
  }
}
