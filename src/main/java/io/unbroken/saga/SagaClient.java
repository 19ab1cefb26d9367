package io.unbroken.saga;

import com.google.common.hash.Hashing;
import io.unbroken.config.SagaConfig;
import io.unbroken.events.EventStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/** How the gateway starts sagas: the node's coordinator runs them; the answer comes when one ends. */
public final class SagaClient {

  /** The failure code of a start whose saga id is taken: a retry under the same Idempotency-Key. */
  public static final int ALREADY_STARTED = 409;

  private final Vertx vertx;
  private final EventStore events;
  private final Map<String, SagaConfig> byPath;
  private final Map<String, SagaConfig> byName;

  public SagaClient(Vertx vertx, EventStore events, List<SagaConfig> sagas) {
    this.vertx = vertx;
    this.events = events;
    this.byPath = sagas.stream().collect(Collectors.toMap(SagaConfig::path, Function.identity()));
    this.byName = sagas.stream().collect(Collectors.toMap(SagaConfig::name, Function.identity()));
  }

  /** The saga as its events leave it now (the shape {@link #start} ends with), if there is one. */
  public Future<Optional<JsonObject>> find(String sagaId) {
    return events.readStream(SagaEvents.streamOf(sagaId), 1, Instant.MAX).map(recorded -> {
      if (recorded.isEmpty()) {
        return Optional.empty();
      }
      SagaState state = SagaCoordinator.fold(sagaId, recorded);
      return Optional.of(state.toJson(byName.get(state.name())));
    });
  }

  /**
   * The id of the saga a start with this Idempotency-Key begins: the same for every retry of the
   * start, so a retry finds the saga its first attempt began instead of beginning another.
   */
  public static String idForKey(SagaConfig saga, String key) {
    return "k" + Hashing.sha256().hashString(saga.name() + "\n" + key, StandardCharsets.UTF_8).toString().substring(0, 32);
  }

  /** The saga a request to this path starts, if one does. */
  public Optional<SagaConfig> at(String path) {
    return Optional.ofNullable(byPath.get(path));
  }

  /**
   * Starts a saga with id {@code sagaId}; {@code followToken} is what a client must show to follow it. The future holds the saga as it ended (see
   * {@link SagaState#toJson}); it fails with a {@link io.vertx.core.eventbus.ReplyException} of
   * type {@code TIMEOUT} when the saga runs past its timeout (it goes on), or of
   * {@code RECIPIENT_FAILURE} when its start could not be recorded: failure code
   * {@link #ALREADY_STARTED} when a saga with this id exists, else it never began.
   */
  public Future<JsonObject> start(SagaConfig saga, String sagaId, JsonObject input, String requestId,
      String followToken) {
    JsonObject message = new JsonObject().put("saga", saga.name()).put("id", sagaId).put("input", input)
        .put("requestId", requestId).put("followToken", followToken);
    return vertx.eventBus().<JsonObject>request(SagaAddresses.START, message,
            new DeliveryOptions().setSendTimeout(saga.timeout().toMillis()).setLocalOnly(true))
        .map(reply -> reply.body());
  }
}
