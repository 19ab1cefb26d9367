package io.unbroken.saga;

import io.unbroken.config.SagaConfig;
import io.unbroken.events.EventStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/** How the gateway starts sagas: the node's coordinator runs them; the answer comes when one ends. */
public final class SagaClient {

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

  /** The saga a request to this path starts, if one does. */
  public Optional<SagaConfig> at(String path) {
    return byPath.isEmpty() ? Optional.empty() : Optional.ofNullable(byPath.get(path));
  }

  /**
   * Starts a saga with id {@code sagaId}. The future holds the saga as it ended (see
   * {@link SagaState#toJson}); it fails with a {@link io.vertx.core.eventbus.ReplyException} of
   * type {@code TIMEOUT} when the saga runs past its timeout (it goes on), or of
   * {@code RECIPIENT_FAILURE} when its start could not be recorded (it never began).
   */
  public Future<JsonObject> start(SagaConfig saga, String sagaId, JsonObject input, String requestId) {
    JsonObject message = new JsonObject().put("saga", saga.name()).put("id", sagaId).put("input", input)
        .put("requestId", requestId);
    return vertx.eventBus().<JsonObject>request(SagaAddresses.START, message,
            new DeliveryOptions().setSendTimeout(saga.timeout().toMillis()).setLocalOnly(true))
        .map(reply -> reply.body());
  }
}
