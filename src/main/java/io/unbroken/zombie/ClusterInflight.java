package io.unbroken.zombie;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The in-flight requests of every live node, asked of each over the (clustered) event bus. Live
 * means holding a liveness lease in the store; a live node that does not answer in time is named
 * as unreachable rather than left out silently.
 */
public final class ClusterInflight {

  static final String LIST = "list";
  static final String CANCEL = "cancel";

  /** Where the node with this id cancelled the request, if one did. */
  public record Cancellation(Optional<String> node, List<String> unreachable) {}

  private final Vertx vertx;
  private final Supplier<Future<Set<String>>> liveNodes;
  private final DeliveryOptions delivery;

  public ClusterInflight(Vertx vertx, Supplier<Future<Set<String>>> liveNodes, Duration askTimeout) {
    this.vertx = vertx;
    this.liveNodes = liveNodes;
    this.delivery = new DeliveryOptions().setSendTimeout(askTimeout.toMillis());
  }

  static String addressOf(String node) {
    return "unbroken.zombie.node." + node;
  }

  /** {@code {"nodes": [{"node", "requests": [...]}], "unreachable": [...]}}, for every live node or just {@code only}. */
  public Future<JsonObject> list(Optional<String> only) {
    return askAll(only, new JsonObject().put("action", LIST)).map(answers -> {
      JsonArray nodes = new JsonArray();
      JsonArray unreachable = new JsonArray();
      answers.forEach(answer -> {
        if (answer.reply().isPresent()) {
          nodes.add(answer.reply().get());
        } else {
          unreachable.add(new JsonObject().put("node", answer.node()).put("reason", answer.failure()));
        }
      });
      return new JsonObject().put("nodes", nodes).put("unreachable", unreachable);
    });
  }

  /** Asks every live node to cancel the request; the one running it does. */
  public Future<Cancellation> cancel(String requestId, InflightRegistry.CancelledBy by) {
    JsonObject ask = new JsonObject().put("action", CANCEL).put("requestId", requestId).put("by", by.name());
    return askAll(Optional.empty(), ask).map(answers -> new Cancellation(
        answers.stream().filter(a -> a.reply().map(r -> r.getBoolean("cancelled", false)).orElse(false))
            .map(Answer::node).findFirst(),
        answers.stream().filter(a -> a.reply().isEmpty()).map(Answer::node).toList()));
  }

  private record Answer(String node, Optional<JsonObject> reply, String failure) {}

  private Future<List<Answer>> askAll(Optional<String> only, JsonObject ask) {
    return liveNodes.get().compose(nodes -> {
      List<Future<Answer>> answers = new ArrayList<>();
      nodes.stream().sorted().filter(node -> only.map(node::equals).orElse(true)).forEach(node -> answers.add(
          vertx.eventBus().<JsonObject>request(addressOf(node), ask, delivery)
              .map(reply -> new Answer(node, Optional.of(reply.body()), ""))
              .otherwise(failure -> new Answer(node, Optional.empty(), String.valueOf(failure.getMessage())))));
      return Future.all(answers).map(all -> answers.stream().map(Future::result).toList());
    });
  }
}
