package io.unbroken.events;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's one batching writer (group commit). Appends arriving while a commit is in flight, or
 * within {@code maxDelay} of each other, share the next transaction and commit, up to
 * {@code maxBatchEvents} events; each caller gets its own outcome. At most {@code maxInFlight}
 * commits run at once, so under load batches grow instead of connections queueing.
 */
public final class EventStoreVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(EventStoreVerticle.class);

  /** How batches form, and how long events are kept. */
  public record Batching(int maxBatchEvents, Duration maxDelay, int maxInFlight, Duration retention) {}

  private static final long MAINTENANCE_INTERVAL_MS = Duration.ofHours(1).toMillis();
  // How long stop() lets appends already taken commit; a store that cannot commit them fails them after it.
  private static final long DRAIN_LIMIT_MS = 5_000;

  private final EventStorage storage;
  private final Batching batching;
  private long maintenanceTimer = -1;
  private final DistributionSummary batchSizes;
  private final Timer commitLatency;
  private final Queue<Message<StreamAppend>> pending = new ArrayDeque<>();
  private int pendingEvents;
  private int inFlight;
  private long delayTimer = -1;
  private boolean flushQueued;
  private MessageConsumer<StreamAppend> consumer;
  private Promise<Void> drained; // set by stop(): completes once nothing is queued or being committed

  public EventStoreVerticle(EventStorage storage, Batching batching, MeterRegistry registry) {
    this.storage = storage;
    this.batching = batching;
    this.batchSizes = DistributionSummary.builder("unbroken.events.batch.size")
        .description("Events per group commit").publishPercentileHistogram().register(registry);
    this.commitLatency = Timer.builder("unbroken.events.commit.latency")
        .description("Time to write and commit one batch").publishPercentileHistogram().register(registry);
  }

  @Override
  public Future<?> start() {
    consumer = vertx.eventBus().localConsumer(EventsAddresses.APPEND, this::enqueue);
    maintenanceTimer = vertx.setPeriodic(MAINTENANCE_INTERVAL_MS, t -> maintain());
    // Partitions for this month and the next ones must exist before the first append.
    return storage.maintain(batching.retention()).compose(v -> consumer.completion());
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(maintenanceTimer);
    // Appends already taken are committed, not failed: the pool is still open, and nobody waits for
    // an async route's events, so failing them here loses them on every graceful shutdown.
    return consumer.unregister()
        .compose(unregistered -> {
          drained = Promise.promise();
          flushIfDue();
          return drained.future().timeout(DRAIN_LIMIT_MS, TimeUnit.MILLISECONDS);
        })
        .onComplete(done -> failPending());
  }

  /** Appends still waiting once the drain gave up would otherwise go unanswered until their callers' timeout. */
  private void failPending() {
    for (Message<StreamAppend> message = pending.poll(); message != null; message = pending.poll()) {
      message.fail(EventsAddresses.STORAGE_FAILED, "the event store writer stopped before this append was committed");
    }
    pendingEvents = 0;
  }

  private void maintain() {
    storage.maintain(batching.retention())
        .onFailure(failure -> log.warn("Event store housekeeping failed, next try in an hour: {}", failure.getMessage()));
  }

  private void enqueue(Message<StreamAppend> message) {
    pending.add(message);
    pendingEvents += message.body().weight();
    flushIfDue();
  }

  private void flushIfDue() {
    if (pending.isEmpty() || inFlight >= batching.maxInFlight()) {
      if (drained != null && pending.isEmpty() && inFlight == 0) {
        drained.tryComplete();
      }
      return; // a finishing commit calls back here
    }
    if (drained != null || pendingEvents >= batching.maxBatchEvents()) {
      flush();
    } else if (batching.maxDelay().isZero() || inFlight > 0) {
      flushSoon();
    } else if (delayTimer < 0) {
      delayTimer = vertx.setTimer(Math.max(1, batching.maxDelay().toMillis()), t -> {
        delayTimer = -1;
        flush();
      });
    }
  }

  /**
   * Flushes once the tasks already queued on this event loop have run: appends delivered meanwhile
   * join this batch instead of waiting for the next commit, and nothing waits on a timer.
   */
  private void flushSoon() {
    if (flushQueued) {
      return;
    }
    flushQueued = true;
    context.runOnContext(v -> {
      flushQueued = false;
      if (!pending.isEmpty() && inFlight < batching.maxInFlight()) {
        flush();
      }
    });
  }

  private void flush() {
    vertx.cancelTimer(delayTimer);
    delayTimer = -1;
    List<Message<StreamAppend>> batch = new ArrayList<>();
    List<StreamAppend> appends = new ArrayList<>();
    int events = 0;
    while (!pending.isEmpty() && (batch.isEmpty() || events + pending.peek().body().weight() <= batching.maxBatchEvents())) {
      Message<StreamAppend> message = pending.poll();
      batch.add(message);
      appends.add(message.body());
      events += message.body().weight();
    }
    if (batch.isEmpty()) {
      return;
    }
    pendingEvents -= events;
    inFlight++;
    batchSizes.record(events);
    long started = System.nanoTime();
    // Through compose, a storage that throws instead of failing its future still releases the slot.
    Future.succeededFuture(appends).compose(storage::appendBatch)
        .onSuccess(outcomes -> {
          for (int i = 0; i < batch.size(); i++) {
            batch.get(i).reply(outcomes.get(i));
          }
        })
        .onFailure(failure -> {
          log.warn("Batch of {} appends not committed: {}", batch.size(), failure.getMessage());
          batch.forEach(message -> message.fail(EventsAddresses.STORAGE_FAILED, String.valueOf(failure.getMessage())));
        })
        .onComplete(done -> {
          commitLatency.record(Duration.ofNanos(System.nanoTime() - started));
          inFlight--;
          flushIfDue();
        });
  }
}
