package io.unbroken.zombie;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Optional;

/**
 * This node's part in ending zombie requests: answers, over the (clustered) event bus, what it
 * has in flight and requests to cancel one of them; and runs the reaper on every heartbeat (the
 * pass itself runs on one node at a time, whichever holds the reaper lease).
 */
public final class ZombieVerticle extends VerticleBase {

  private final InflightRegistry registry;
  private final String node;
  private final Optional<Reaper> reaper;
  private final Duration interval;
  private MessageConsumer<JsonObject> consumer;
  private long timer = -1;
  private boolean reaping;

  /** @param reaper absent where no store keeps in-flight rows that outlive a node */
  public ZombieVerticle(InflightRegistry registry, String node, Optional<Reaper> reaper, Duration interval) {
    this.registry = registry;
    this.node = node;
    this.reaper = reaper;
    this.interval = interval;
  }

  @Override
  public Future<?> start() {
    consumer = vertx.eventBus().consumer(ClusterInflight.addressOf(node), this::answer);
    reaper.ifPresent(r -> timer = vertx.setPeriodic(interval.toMillis(), t -> reap(r)));
    return consumer.completion();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
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
