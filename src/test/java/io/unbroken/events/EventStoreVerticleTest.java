package io.unbroken.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.embedded.EmbeddedEventStorage;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.Checkpoint;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The group-commit writer and its client over the local event bus, on the embedded storage: each
 * caller gets its own outcome, concurrent appends share commits, a wrong expectation fails only
 * its own append, and a batch that cannot be committed fails all of its callers and nothing else.
 */
@ExtendWith(VertxExtension.class)
class EventStoreVerticleTest {

  private static final Duration APPEND_TIMEOUT = Duration.ofSeconds(10);
  /** Longer than any test: a batch with this delay forms only when it is full. */
  private static final Duration NEVER = Duration.ofMinutes(10);
  private static final String BATCH_SIZE = "unbroken.events.batch.size";
  private static final Duration RETENTION = Duration.ofDays(30);

  private final ManualClock clock = ManualClock.at("2025-06-01T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private EmbeddedEventStorage embedded;

  @BeforeEach
  void registerCodecs(Vertx vertx) {
    EventStoreClient.registerCodecs(vertx);
    SnowflakeIds ids = new SnowflakeIds(clock, 0, 60_000);
    ids.holdWorker(1, Long.MAX_VALUE);
    embedded = new EmbeddedEventStorage(new Stamps(ids, new HybridLogicalClock(clock, 1_000)), clock);
  }

  @Test
  void everyCallerGetsItsOwnResult(Vertx vertx, VertxTestContext testContext) {
    int callers = 300;
    int streams = 30;
    EventStoreClient client = new EventStoreClient(vertx, embedded, APPEND_TIMEOUT);
    List<Future<AppendResult>> results = new ArrayList<>();
    deploy(vertx, embedded, batching(256, Duration.ofMillis(1), 1))
        .compose(deployed -> onEventLoop(vertx, () -> {
          for (int i = 0; i < callers; i++) {
            results.add(client.append(StreamAppend.of("stream-" + (i % streams), ExpectedVersion.ANY,
                NewEvent.of("Called", new JsonObject().put("caller", i)))));
          }
          return Future.all(results);
        }))
        .compose(all -> Future.all(IntStream.range(0, streams)
            .mapToObj(s -> client.readStream("stream-" + s, 1, Instant.MAX)).toList()))
        .onComplete(testContext.succeeding(reads -> testContext.verify(() -> {
          Map<Long, RecordedEvent> stored = IntStream.range(0, streams)
              .mapToObj(s -> reads.<List<RecordedEvent>>resultAt(s)).flatMap(List::stream)
              .collect(Collectors.toMap(RecordedEvent::id, Function.identity()));
          assertThat(stored).hasSize(callers);
          for (int i = 0; i < callers; i++) {
            AppendResult result = results.get(i).result();
            assertThat(result.streamId()).isEqualTo("stream-" + (i % streams));
            assertThat(result.eventIds()).hasSize(1);
            RecordedEvent event = stored.get(result.eventIds().get(0));
            assertThat(event.data().getInteger("caller")).as("caller of event %d", event.id()).isEqualTo(i);
            assertThat(event.streamVersion()).isEqualTo(result.firstVersion()).isEqualTo(result.lastVersion());
          }
          testContext.completeNow();
        })));
  }

  @Test
  void hundredsOfConcurrentAppendsShareCommits(Vertx vertx, VertxTestContext testContext) {
    int callers = 500;
    EventStoreClient client = new EventStoreClient(vertx, embedded, APPEND_TIMEOUT);
    deploy(vertx, embedded, batching(256, Duration.ofMillis(20), 1))
        .compose(deployed -> onEventLoop(vertx, () -> Future.all(IntStream.range(0, callers)
            .mapToObj(i -> client.append(StreamAppend.of("own-" + i, ExpectedVersion.NO_STREAM,
                NewEvent.of("Called", new JsonObject().put("caller", i)))))
            .toList())))
        .onComplete(testContext.succeeding(all -> testContext.verify(() -> {
          DistributionSummary batches = registry.get(BATCH_SIZE).summary();
          assertThat(batches.totalAmount()).as("events committed").isEqualTo(callers);
          assertThat(batches.max()).as("largest batch").isGreaterThan(1);
          assertThat(batches.count()).as("commits").isLessThan(callers);
          testContext.completeNow();
        })));
  }

  @Test
  void appendsArrivingDuringACommitShareTheNextOne(Vertx vertx, VertxTestContext testContext) {
    GatedStorage gated = new GatedStorage(embedded);
    EventStoreClient client = new EventStoreClient(vertx, gated, APPEND_TIMEOUT);
    List<Future<AppendResult>> results = new ArrayList<>();
    deploy(vertx, gated, batching(256, Duration.ZERO, 1))
        .compose(deployed -> onEventLoop(vertx, () -> {
          results.add(client.append(append("first", ExpectedVersion.NO_STREAM, "E")));
          return Future.succeededFuture();
        }))
        .compose(sent -> gated.awaitBatches(vertx, 1))
        .compose(held -> onEventLoop(vertx, () -> {
          for (String stream : List.of("second", "third", "fourth")) {
            results.add(client.append(append(stream, ExpectedVersion.NO_STREAM, "E")));
          }
          return Future.succeededFuture();
        }))
        // The three wait for the commit in flight; releasing it lets them go, together.
        .compose(sent -> gated.release())
        .compose(released -> gated.awaitBatches(vertx, 2))
        .compose(held -> gated.release())
        .compose(released -> Future.all(results))
        .onComplete(testContext.succeeding(all -> testContext.verify(() -> {
          assertThat(gated.batches()).extracting(batch -> batch.stream().map(StreamAppend::streamId).toList())
              .containsExactly(List.of("first"), List.of("second", "third", "fourth"));
          assertThat(results).extracting(result -> result.result().streamId())
              .containsExactly("first", "second", "third", "fourth");
          testContext.completeNow();
        })));
  }

  @Test
  void aConflictingAppendFailsAloneWithWrongExpectedVersion(Vertx vertx, VertxTestContext testContext) {
    EventStoreClient client = new EventStoreClient(vertx, embedded, APPEND_TIMEOUT);
    List<Future<AppendResult>> results = new ArrayList<>();
    // A batch of exactly three events: the three appends below share one commit.
    deploy(vertx, embedded, batching(3, NEVER, 1))
        .compose(deployed -> onEventLoop(vertx, () -> {
          results.add(client.append(append("contested", ExpectedVersion.NO_STREAM, "First")));
          results.add(client.append(append("contested", ExpectedVersion.NO_STREAM, "Second")));
          results.add(client.append(append("bystander", ExpectedVersion.NO_STREAM, "Third")));
          return Future.join(results);
        }))
        .transform(settled -> client.readStream("contested", 1, Instant.MAX))
        .onComplete(testContext.succeeding(contested -> testContext.verify(() -> {
          DistributionSummary batches = registry.get(BATCH_SIZE).summary();
          assertThat(batches.count()).as("commits").isEqualTo(1);
          assertThat(results.get(0).succeeded()).as("first append to the new stream").isTrue();
          assertThat(results.get(1).cause()).isInstanceOfSatisfying(WrongExpectedVersion.class, wrong -> {
            assertThat(wrong.streamId()).isEqualTo("contested");
            assertThat(wrong.actualVersion()).isEqualTo(1);
          });
          assertThat(results.get(2).succeeded()).as("append to another stream in the same batch").isTrue();
          assertThat(results.get(2).result().firstVersion()).isEqualTo(1);
          assertThat(contested).extracting(RecordedEvent::type).containsExactly("First");
          testContext.completeNow();
        })));
  }

  @Test
  void withNoWriterDeployedAnAppendFailsAsUnavailable(Vertx vertx, VertxTestContext testContext) {
    EventStoreClient client = new EventStoreClient(vertx, embedded, APPEND_TIMEOUT);
    client.append(append("nowhere", ExpectedVersion.ANY, "E"))
        .onComplete(testContext.failing(failure -> testContext.verify(() -> {
          assertThat(failure).isInstanceOf(EventStoreUnavailable.class).hasMessageContaining("no event store writer");
          testContext.completeNow();
        })));
  }

  @Test
  void aBatchThatCannotCommitFailsEveryCallerAndLaterBatchesStillWork(Vertx vertx, VertxTestContext testContext) {
    FailingStorage storage = new FailingStorage(embedded);
    EventStoreClient client = new EventStoreClient(vertx, storage, APPEND_TIMEOUT);
    List<Future<AppendResult>> failed = new ArrayList<>();
    List<Future<AppendResult>> later = new ArrayList<>();
    Checkpoint everyCallerAnswered = testContext.checkpoint(4);
    Checkpoint verified = testContext.checkpoint();
    deploy(vertx, storage, batching(2, NEVER, 1))
        .compose(deployed -> onEventLoop(vertx, () -> {
          storage.failing.set(true);
          failed.add(client.append(append("a", ExpectedVersion.NO_STREAM, "Lost")));
          failed.add(client.append(append("b", ExpectedVersion.NO_STREAM, "Lost")));
          failed.forEach(result -> result.onComplete(done -> everyCallerAnswered.flag()));
          return Future.join(failed);
        }))
        .transform(settled -> onEventLoop(vertx, () -> {
          storage.failing.set(false);
          later.add(client.append(append("a", ExpectedVersion.NO_STREAM, "Kept")));
          later.add(client.append(append("b", ExpectedVersion.NO_STREAM, "Kept")));
          later.forEach(result -> result.onComplete(done -> everyCallerAnswered.flag()));
          return Future.all(later);
        }))
        .compose(all -> client.readStream("a", 1, Instant.MAX))
        .onComplete(testContext.succeeding(streamA -> testContext.verify(() -> {
          assertThat(failed).allSatisfy(result -> assertThat(result.cause())
              .isInstanceOf(EventStoreUnavailable.class).hasMessageContaining("connection reset"));
          assertThat(later).allSatisfy(result -> assertThat(result.result().firstVersion()).isEqualTo(1));
          assertThat(streamA).extracting(RecordedEvent::type).containsExactly("Kept");
          assertThat(storage.attempts.get()).as("batches tried").isEqualTo(2);
          verified.flag();
        })));
  }

  @Test
  void undeployingCommitsAppendsStillWaitingForABatch(Vertx vertx, VertxTestContext testContext) {
    // The caller would wait ten minutes for a reply that never comes; the test's own timeout is far shorter.
    EventStoreClient client = new EventStoreClient(vertx, embedded, NEVER);
    List<Future<AppendResult>> waiting = new ArrayList<>();
    deploy(vertx, embedded, batching(3, NEVER, 1))
        .compose(deployment -> onEventLoop(vertx, () -> {
          waiting.add(client.append(append("waiting", ExpectedVersion.ANY, "E")));
          return Future.succeededFuture(deployment);
        }))
        .compose(deployment -> registry.get(BATCH_SIZE).summary().count() == 0
            ? vertx.undeploy(deployment) : Future.failedFuture("the append was committed before the undeploy"))
        .transform(undeployed -> waiting.get(0).transform(Future::succeededFuture))
        .onComplete(testContext.succeeding(answer -> testContext.verify(() -> {
          assertThat(answer.succeeded()).as("the waiting append was committed").isTrue();
          assertThat(answer.result().firstVersion()).isEqualTo(1);
          testContext.completeNow();
        })));
  }

  private static StreamAppend append(String streamId, ExpectedVersion expected, String type) {
    return StreamAppend.of(streamId, expected, NewEvent.of(type, new JsonObject()));
  }

  private Future<String> deploy(Vertx vertx, EventStorage storage, EventStoreVerticle.Batching batching) {
    return vertx.deployVerticle(new EventStoreVerticle(storage, batching, registry));
  }

  private static EventStoreVerticle.Batching batching(int maxBatchEvents, Duration maxDelay, int maxInFlight) {
    return new EventStoreVerticle.Batching(maxBatchEvents, maxDelay, maxInFlight, RETENTION);
  }

  /** Runs {@code body} on an event loop, as the gateway's handlers do, and follows the future it returns. */
  private static <T> Future<T> onEventLoop(Vertx vertx, Supplier<Future<T>> body) {
    Context context = vertx.getOrCreateContext();
    Promise<T> promise = Promise.promise();
    context.runOnContext(v -> body.get().onComplete(promise));
    return promise.future();
  }

  /** Fails every batch, as an unreachable database would, while {@link #failing} is set. */
  private static final class FailingStorage extends StorageInFront {
    final AtomicBoolean failing = new AtomicBoolean();
    private final AtomicInteger attempts = new AtomicInteger();

    FailingStorage(EventStorage delegate) {
      super(delegate);
    }

    @Override
    public Future<List<AppendOutcome>> appendBatch(List<StreamAppend> appends) {
      attempts.incrementAndGet();
      return failing.get() ? Future.failedFuture("connection reset") : delegate.appendBatch(appends);
    }
  }

  /**
   * Holds every batch until the test releases it, as a slow commit would, and remembers the
   * batches in the order they came. Released batches complete on the writer's own context.
   */
  private static final class GatedStorage extends StorageInFront {
    private final Queue<Runnable> held = new ConcurrentLinkedQueue<>();
    private final Queue<List<StreamAppend>> batches = new ConcurrentLinkedQueue<>();

    GatedStorage(EventStorage delegate) {
      super(delegate);
    }

    @Override
    public Future<List<AppendOutcome>> appendBatch(List<StreamAppend> appends) {
      Context writer = Vertx.currentContext();
      Promise<List<AppendOutcome>> committed = Promise.promise();
      batches.add(appends);
      held.add(() -> writer.runOnContext(v -> delegate.appendBatch(appends).onComplete(committed)));
      return committed.future();
    }

    /** Succeeds once {@code count} batches have reached storage; polls every millisecond, up to 10 s. */
    Future<Void> awaitBatches(Vertx vertx, int count) {
      return poll(vertx, count, 10_000);
    }

    private Future<Void> poll(Vertx vertx, int count, int pollsLeft) {
      if (batches.size() >= count) {
        return Future.succeededFuture();
      }
      if (pollsLeft == 0) {
        return Future.failedFuture(new AssertionError("only " + batches.size() + " of " + count + " batches came"));
      }
      return vertx.timer(1).compose(t -> poll(vertx, count, pollsLeft - 1));
    }

    /** Lets the oldest held batch commit. */
    Future<Void> release() {
      Runnable next = held.poll();
      if (next == null) {
        return Future.failedFuture(new AssertionError("no batch is held"));
      }
      next.run();
      return Future.succeededFuture();
    }

    List<List<StreamAppend>> batches() {
      return List.copyOf(batches);
    }
  }

  /** A storage in front of another: reads and housekeeping pass through, appends are the test's to shape. */
  private abstract static class StorageInFront implements EventStorage {
    final EventStorage delegate;

    StorageInFront(EventStorage delegate) {
      this.delegate = delegate;
    }

    @Override
    public Future<List<RecordedEvent>> readStream(String streamId, int fromVersion, Instant upTo) {
      return delegate.readStream(streamId, fromVersion, upTo);
    }

    @Override
    public Future<List<RecordedEvent>> readAll(GlobalCheckpoint after, int limit) {
      return delegate.readAll(after, limit);
    }

    @Override
    public Future<Void> maintain(Duration retention) {
      return delegate.maintain(retention);
    }
  }

}
