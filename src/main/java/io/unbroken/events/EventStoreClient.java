package io.unbroken.events;

import io.unbroken.platform.LocalCodec;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.ReplyException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The event store as the rest of the node sees it: appends go over the event bus to this node's
 * {@link EventStoreVerticle} (so they share its group commits), reads go straight to storage.
 * A store that cannot record an append fails it with {@link EventStoreUnavailable}.
 */
public final class EventStoreClient implements EventStore {

  private final EventBus eventBus;
  private final EventStorage storage;
  private final DeliveryOptions delivery;

  public EventStoreClient(Vertx vertx, EventStorage storage, Duration appendTimeout) {
    this.eventBus = vertx.eventBus();
    this.storage = storage;
    this.delivery = new DeliveryOptions().setSendTimeout(appendTimeout.toMillis()).setLocalOnly(true);
  }

  /** Lets appends and their outcomes travel the local event bus by reference; once per Vert.x instance. */
  public static void registerCodecs(Vertx vertx) {
    vertx.eventBus().registerDefaultCodec(StreamAppend.class, new LocalCodec<>(StreamAppend.class));
    vertx.eventBus().registerDefaultCodec(AppendOutcome.class, new LocalCodec<>(AppendOutcome.class));
  }

  @Override
  public Future<AppendResult> append(StreamAppend append) {
    return eventBus.<AppendOutcome>request(EventsAddresses.APPEND, append, delivery)
        .recover(failure -> Future.failedFuture(unavailable(failure)))
        .compose(reply -> reply.body().toFuture());
  }

  @Override
  public Future<List<RecordedEvent>> readStream(String streamId, int fromVersion, Instant upTo) {
    return storage.readStream(streamId, fromVersion, upTo);
  }

  @Override
  public Future<List<RecordedEvent>> readAll(GlobalCheckpoint after, int limit) {
    return storage.readAll(after, limit);
  }

  private static EventStoreUnavailable unavailable(Throwable failure) {
    if (failure instanceof ReplyException reply) {
      return switch (reply.failureType()) {
        case NO_HANDLERS -> new EventStoreUnavailable("no event store writer runs on this node");
        case TIMEOUT -> new EventStoreUnavailable("the event store did not answer in time");
        default -> new EventStoreUnavailable("the event store could not commit: " + reply.getMessage());
      };
    }
    return new EventStoreUnavailable(String.valueOf(failure.getMessage()));
  }
}
