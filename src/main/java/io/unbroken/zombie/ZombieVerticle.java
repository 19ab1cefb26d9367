package io.unbroken.zombie;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's part in ending zombie requests: answers, over the (clustered) event bus, what it
 * has in flight and requests to cancel one of them; and runs the reaper on every heartbeat (the
 * pass itself runs on one node at a time, whichever holds the reaper lease); and forgets status
 * monitors whose answers are no longer kept.
 */
public final class ZombieVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(ZombieVerticle.class);
  private static final long PURGE_INTERVAL_MS = Duration.ofMinutes(1).toMillis();

  private final InflightRegistry registry;
  private final String node;
  private final Optional<Reaper> reaper;
  private final StatusMonitors monitors;
  private final Duration interval;
  private MessageConsumer<JsonObject> consumer;
  private long timer = -1;
  private long purgeTimer = -1;
  private boolean reaping;

  /** @param reaper absent where no store keeps in-flight rows that outlive a node */
  public ZombieVerticle(InflightRegistry registry, String node, Optional<Reaper> reaper, StatusMonitors monitors,
      Duration interval) {
    this.registry = registry;
    this.node = node;
    this.reaper = reaper;
    this.monitors = monitors;
    this.interval = interval;
  }

  @Override
  public Future<?> start() {
    consumer = vertx.eventBus().consumer(ClusterInflight.addressOf(node), this::answer);
    reaper.ifPresent(r -> timer = vertx.setPeriodic(interval.toMillis(), t -> reap(r)));
    purgeTimer = vertx.setPeriodic(PURGE_INTERVAL_MS, t -> monitors.purgeExpired()
        .onFailure(failure -> log.warn("Expired status monitors not purged: {}", failure.getMessage())));
    return consumer.completion();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    vertx.cancelTimer(purgeTimer);
    return consumer.unregister();
  }

  private void reap(Reaper r) {
    if (reaping) {
      return; // a long pass is still going: the next beat goes on from where it ends
    }
    reaping = true;
    r.pass().onComplete(done -> reaping = false);
  }

  private void answer(Message<JsonObject> message) {
    JsonObject body = message.body();
    JsonObject reply = new JsonObject().put("node", node);
    switch (body.getString("action", "")) {
      case ClusterInflight.LIST -> message.reply(reply.put("requests", registry.snapshot()));
      case ClusterInflight.CANCEL -> message.reply(reply.put("cancelled", registry.cancel(body.getString("requestId"),
          InflightRegistry.CancelledBy.valueOf(body.getString("by")))));
      default -> message.fail(400, "unknown action " + body.getString("action"));
    }
  }
}
