package io.unbroken.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What every {@link EventStorage} promises, run against each implementation: versions 1..n per
 * stream under optimistic expectations; a wrong expectation fails that append alone and writes
 * nothing, not even its side rows; appends of one batch to one stream chain; reads by version and
 * as of an instant; and a global order that paging walks exactly once.
 *
 * <p>Several tests may share one store (a PostgreSQL database per class), so every test writes
 * only streams and side-row keys of its own and looks at the global order through those streams.
 */
@ExtendWith(VertxExtension.class)
public abstract class EventStorageContract {

  /** The table {@link #sideRow} reads: {@code side_test (k text primary key, v text, note text)}. */
  protected static final String SIDE_TABLE = "side_test";

  /** Later than any event a test writes: reads up to it see the whole stream. */
  // Every event, as an admin read without asOf asks for them.
  private static final Instant LATER_THAN_EVERY_EVENT = Instant.MAX;
  /** readAll answers only what can no longer be preceded; a busy shared server may hold that back a while. */
  private static final Duration READ_ALL_PATIENCE = Duration.ofSeconds(30);
  private static final Duration READ_ALL_POLL = Duration.ofMillis(20);

  private Vertx vertx;
  private EventStorage storage;
  private String prefix;

  /** The storage under test; called before every test. */
  protected abstract EventStorage createStorage(Vertx vertx);

  /** The non-null columns other than {@code k} of the side-table row with key {@code k}; empty when there is none. */
  protected abstract Future<Optional<Map<String, String>>> sideRow(String k);

  /**
   * Lets the store's clock move on, so the next append is recorded strictly later than the last.
   * A store on a manual clock moves it; a store whose time runs by itself may do nothing.
   */
  protected abstract Future<Void> letTimePass();

  @BeforeEach
  public void createFreshStorage(Vertx vertx, TestInfo test) {
    this.vertx = vertx;
    this.storage = createStorage(vertx);
    this.prefix = test.getTestMethod().orElseThrow().getName() + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  @Test
  public void appendingToANewStreamGivesVersionsOneToNAndDistinctIds(VertxTestContext testContext) {
    String stream = stream("new");
    AtomicReference<List<AppendOutcome>> outcomes = new AtomicReference<>();
    storage.appendBatch(List.of(StreamAppend.of(stream, ExpectedVersion.NO_STREAM,
            event("Opened", 1), event("Noted", 2), event("Closed", 3))))
        .onSuccess(outcomes::set)
        .compose(appended -> storage.readStream(stream, 1, LATER_THAN_EVERY_EVENT))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertThat(outcomes.get()).hasSize(1);
          AppendResult result = appended(outcomes.get().get(0));
          assertThat(result.streamId()).isEqualTo(stream);
          assertThat(result.firstVersion()).isEqualTo(1);
          assertThat(result.lastVersion()).isEqualTo(3);
          assertThat(result.eventIds()).hasSize(3).doesNotHaveDuplicates()
              .allSatisfy(id -> assertThat(id).isPositive());
          assertThat(events).extracting(RecordedEvent::streamVersion).containsExactly(1, 2, 3);
          assertThat(events).extracting(RecordedEvent::id).containsExactlyElementsOf(result.eventIds());
          assertThat(events).extracting(RecordedEvent::type).containsExactly("Opened", "Noted", "Closed");
          assertThat(events).extracting(e -> e.data().getInteger("n")).containsExactly(1, 2, 3);
          assertThat(events).allSatisfy(e -> assertThat(e.streamId()).isEqualTo(stream));
          testContext.completeNow();
        })));
  }

  @Test
  public void anExactExpectationAppendsAndAStaleOneFailsNamingTheActualVersionAndWritesNothing(
      VertxTestContext testContext) {
    String stream = stream("exact");
    List<AppendOutcome> outcomes = new ArrayList<>();
    appendAlone(StreamAppend.of(stream, ExpectedVersion.NO_STREAM, event("A", 1), event("B", 2)))
        .onSuccess(outcomes::add)
        .compose(first -> appendAlone(StreamAppend.of(stream, ExpectedVersion.exactly(2), event("C", 3))))
        .onSuccess(outcomes::add)
        .compose(second -> appendAlone(StreamAppend.of(stream, ExpectedVersion.exactly(2), event("Stale", 4))))
        .onSuccess(outcomes::add)
        .compose(stale -> appendAlone(StreamAppend.of(stream, ExpectedVersion.NO_STREAM, event("Stale", 5))))
        .onSuccess(outcomes::add)
        .compose(stale -> storage.readStream(stream, 1, LATER_THAN_EVERY_EVENT))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertThat(appended(outcomes.get(1)).firstVersion()).isEqualTo(3);
          assertThat(appended(outcomes.get(1)).lastVersion()).isEqualTo(3);
          assertWrongExpectedVersion(outcomes.get(2), stream, 3);
          assertWrongExpectedVersion(outcomes.get(3), stream, 3);
          assertThat(events).extracting(RecordedEvent::type).as("what the stream holds").containsExactly("A", "B", "C");
          testContext.completeNow();
        })));
  }

  @Test
  public void anyAlwaysAppends(VertxTestContext testContext) {
    String stream = stream("any");
    List<AppendOutcome> outcomes = new ArrayList<>();
    appendAlone(StreamAppend.of(stream, ExpectedVersion.ANY, event("First", 1)))
        .onSuccess(outcomes::add)
        .compose(first -> appendAlone(
            StreamAppend.of(stream, ExpectedVersion.ANY, event("Second", 2), event("Third", 3))))
        .onSuccess(outcomes::add)
        .compose(second -> storage.readStream(stream, 1, LATER_THAN_EVERY_EVENT))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertThat(appended(outcomes.get(0)).firstVersion()).isEqualTo(1);
          assertThat(appended(outcomes.get(1)).firstVersion()).isEqualTo(2);
          assertThat(appended(outcomes.get(1)).lastVersion()).isEqualTo(3);
          assertThat(events).extracting(RecordedEvent::streamVersion).containsExactly(1, 2, 3);
          testContext.completeNow();
        })));
  }

  @Test
  public void readStreamStartsAtTheGivenVersion(VertxTestContext testContext) {
    String stream = stream("from");
    List<List<RecordedEvent>> reads = new ArrayList<>();
    appendAlone(StreamAppend.of(stream, ExpectedVersion.NO_STREAM,
            event("E", 1), event("E", 2), event("E", 3), event("E", 4), event("E", 5)))
        .compose(appended -> storage.readStream(stream, 3, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(stream, 6, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(stream("never-written"), 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          assertThat(reads.get(0)).extracting(RecordedEvent::streamVersion).containsExactly(3, 4, 5);
          assertThat(reads.get(0)).extracting(e -> e.data().getInteger("n")).containsExactly(3, 4, 5);
          assertThat(reads.get(1)).as("from past the last version").isEmpty();
          assertThat(reads.get(2)).as("a stream never written").isEmpty();
          testContext.completeNow();
        })));
  }

  @Test
  public void readStreamUpToAnInstantSeesOnlyWhatWasRecordedByThen(VertxTestContext testContext) {
    String stream = stream("as-of");
    AtomicReference<List<RecordedEvent>> both = new AtomicReference<>();
    List<List<RecordedEvent>> reads = new ArrayList<>();
    appendAlone(StreamAppend.of(stream, ExpectedVersion.NO_STREAM, event("Early", 1)))
        .compose(first -> letTimePass())
        .compose(passed -> appendAlone(StreamAppend.of(stream, ExpectedVersion.exactly(1), event("Late", 2))))
        .compose(second -> storage.readStream(stream, 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(both::set)
        .compose(all -> storage.readStream(stream, 1, recordedAt(all, 0)))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(stream, 1, recordedAt(both.get(), 0).minus(1, ChronoUnit.MICROS)))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(stream, 2, recordedAt(both.get(), 0)))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(stream, 1, recordedAt(both.get(), 1)))
        .onSuccess(reads::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          assertThat(both.get()).extracting(RecordedEvent::type).containsExactly("Early", "Late");
          assertThat(recordedAt(both.get(), 1)).as("the later append's time").isAfter(recordedAt(both.get(), 0));
          assertThat(reads.get(0)).as("up to the first event's time").extracting(RecordedEvent::type)
              .containsExactly("Early");
          assertThat(reads.get(1)).as("up to just before the first event").isEmpty();
          assertThat(reads.get(2)).as("from version 2 up to the first event's time").isEmpty();
          assertThat(reads.get(3)).as("up to the second event's time").extracting(RecordedEvent::type)
              .containsExactly("Early", "Late");
          testContext.completeNow();
        })));
  }

  @Test
  public void readStreamUpToTheLatestInstantReturnsTheWholeStreamAndUpToTheEarliestNothing(
      VertxTestContext testContext) {
    String stream = stream("unbounded");
    List<List<RecordedEvent>> reads = new ArrayList<>();
    appendAlone(StreamAppend.of(stream, ExpectedVersion.NO_STREAM, event("E", 1), event("E", 2)))
        .compose(appended -> storage.readStream(stream, 1, Instant.MAX))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(stream, 1, Instant.MIN))
        .onSuccess(reads::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          assertThat(reads.get(0)).as("up to Instant.MAX").extracting(RecordedEvent::streamVersion)
              .containsExactly(1, 2);
          assertThat(reads.get(1)).as("up to Instant.MIN").isEmpty();
          testContext.completeNow();
        })));
  }

  @Test
  public void readAllFromTheStartReturnsEverythingInOrder(VertxTestContext testContext) {
    List<String> written = new ArrayList<>();
    writeInterleaved(written)
        .compose(done -> readAllFrom(GlobalCheckpoint.START, 10_000, written.size()))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertStrictlyIncreasing(events);
          assertThat(mine(events)).extracting(this::label).containsExactlyElementsOf(written);
          testContext.completeNow();
        })));
  }

  @Test
  public void pagingWithTheLastCheckpointReturnsEachEventExactlyOnce(VertxTestContext testContext) {
    List<String> written = new ArrayList<>();
    writeInterleaved(written)
        .compose(done -> readAllFrom(GlobalCheckpoint.START, 2, written.size()))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertStrictlyIncreasing(events);
          assertThat(events).extracting(RecordedEvent::id).doesNotHaveDuplicates();
          assertThat(mine(events)).extracting(this::label).containsExactlyElementsOf(written);
          testContext.completeNow();
        })));
  }

  @Test
  public void aWrongExpectationInABatchFailsThatAppendAloneAndTheOthersCommit(VertxTestContext testContext) {
    String first = stream("first");
    String wrong = stream("wrong");
    String third = stream("third");
    AtomicReference<List<AppendOutcome>> outcomes = new AtomicReference<>();
    List<List<RecordedEvent>> reads = new ArrayList<>();
    storage.appendBatch(List.of(
            StreamAppend.of(first, ExpectedVersion.NO_STREAM, event("A", 1)),
            StreamAppend.of(wrong, ExpectedVersion.exactly(5), event("B", 2)),
            StreamAppend.of(third, ExpectedVersion.ANY, event("C", 3), event("C", 4))))
        .onSuccess(outcomes::set)
        .compose(batch -> storage.readStream(first, 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(wrong, 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(third, 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          assertThat(outcomes.get()).hasSize(3);
          assertThat(appended(outcomes.get().get(0)).streamId()).isEqualTo(first);
          assertWrongExpectedVersion(outcomes.get().get(1), wrong, 0);
          assertThat(appended(outcomes.get().get(2)).streamId()).isEqualTo(third);
          assertThat(appended(outcomes.get().get(2)).lastVersion()).isEqualTo(2);
          assertThat(reads.get(0)).extracting(RecordedEvent::type).containsExactly("A");
          assertThat(reads.get(1)).as("the stream whose append failed").isEmpty();
          assertThat(reads.get(2)).extracting(RecordedEvent::type).containsExactly("C", "C");
          testContext.completeNow();
        })));
  }

  @Test
  public void aBatchIsReadInBatchOrderWhateverItsStreamsAreCalled(VertxTestContext testContext) {
    String zulu = stream("zulu");
    String alpha = stream("alpha");
    storage.appendBatch(List.of(
            StreamAppend.of(zulu, ExpectedVersion.NO_STREAM, event("Z", 1)),
            StreamAppend.of(alpha, ExpectedVersion.ANY, event("A", 2)),
            StreamAppend.of(zulu, ExpectedVersion.exactly(1), event("Z", 3))))
        .compose(batch -> readAllFrom(GlobalCheckpoint.START, 10_000, 3))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertStrictlyIncreasing(events);
          assertThat(mine(events)).extracting(this::label).containsExactly(zulu + ":1", alpha + ":1", zulu + ":2");
          testContext.completeNow();
        })));
  }

  @Test
  public void appendsToOneStreamInOneBatchChainTheirExpectations(VertxTestContext testContext) {
    String stream = stream("chained");
    AtomicReference<List<AppendOutcome>> outcomes = new AtomicReference<>();
    storage.appendBatch(List.of(
            StreamAppend.of(stream, ExpectedVersion.NO_STREAM, event("A", 1), event("B", 2)),
            StreamAppend.of(stream, ExpectedVersion.exactly(2), event("C", 3)),
            StreamAppend.of(stream, ExpectedVersion.exactly(2), event("Stale", 4)),
            StreamAppend.of(stream, ExpectedVersion.ANY, event("D", 5))))
        .onSuccess(outcomes::set)
        .compose(batch -> storage.readStream(stream, 1, LATER_THAN_EVERY_EVENT))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertThat(outcomes.get()).hasSize(4);
          assertThat(appended(outcomes.get().get(0))).extracting(AppendResult::firstVersion, AppendResult::lastVersion)
              .containsExactly(1, 2);
          assertThat(appended(outcomes.get().get(1))).extracting(AppendResult::firstVersion, AppendResult::lastVersion)
              .containsExactly(3, 3);
          assertWrongExpectedVersion(outcomes.get().get(2), stream, 3);
          assertThat(appended(outcomes.get().get(3))).extracting(AppendResult::firstVersion, AppendResult::lastVersion)
              .containsExactly(4, 4);
          assertThat(events).extracting(RecordedEvent::type).containsExactly("A", "B", "C", "D");
          assertThat(events).extracting(RecordedEvent::streamVersion).containsExactly(1, 2, 3, 4);
          testContext.completeNow();
        })));
  }

  @Test
  public void sideRowsAreWrittenWithTheAppendAndTheSameKeyIsUpdated(VertxTestContext testContext) {
    String stream = stream("side");
    String key = prefix + "-key";
    List<Optional<String>> seen = new ArrayList<>();
    appendAlone(new StreamAppend(stream, ExpectedVersion.NO_STREAM, List.of(event("Stored", 1)),
            List.of(upsert(key, "first"))))
        .compose(first -> sideValue(key))
        .onSuccess(seen::add)
        .compose(read -> appendAlone(new StreamAppend(stream, ExpectedVersion.exactly(1), List.of(event("Stored", 2)),
            List.of(upsert(key, "second")))))
        .compose(second -> sideValue(key))
        .onSuccess(seen::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          assertThat(seen).containsExactly(Optional.of("first"), Optional.of("second"));
          testContext.completeNow();
        })));
  }

  @Test
  public void sideRowsOfAFailedAppendAreNotWritten(VertxTestContext testContext) {
    String stream = stream("side-failed");
    String kept = prefix + "-kept";
    String dropped = prefix + "-dropped";
    String droppedAlone = prefix + "-dropped-alone";
    AtomicReference<List<AppendOutcome>> outcomes = new AtomicReference<>();
    AtomicReference<List<AppendOutcome>> aloneOutcomes = new AtomicReference<>();
    List<Optional<String>> seen = new ArrayList<>();
    storage.appendBatch(List.of(
            new StreamAppend(stream, ExpectedVersion.NO_STREAM, List.of(event("Kept", 1)), List.of(upsert(kept, "v"))),
            new StreamAppend(stream, ExpectedVersion.NO_STREAM, List.of(event("Dropped", 2)),
                List.of(upsert(dropped, "v"), upsert(kept, "overwritten by a failed append")))))
        .onSuccess(outcomes::set)
        .compose(batch -> storage.appendBatch(List.of(new StreamAppend(stream, ExpectedVersion.exactly(7),
            List.of(event("Dropped", 3)), List.of(upsert(droppedAlone, "v"))))))
        .onSuccess(aloneOutcomes::set)
        .compose(batch -> sideValue(kept))
        .onSuccess(seen::add)
        .compose(read -> sideValue(dropped))
        .onSuccess(seen::add)
        .compose(read -> sideValue(droppedAlone))
        .onSuccess(seen::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          assertThat(appended(outcomes.get().get(0)).lastVersion()).isEqualTo(1);
          assertWrongExpectedVersion(outcomes.get().get(1), stream, 1);
          assertWrongExpectedVersion(aloneOutcomes.get().get(0), stream, 1);
          assertThat(seen).as("kept, dropped beside a success, dropped in a batch of one failure")
              .containsExactly(Optional.of("v"), Optional.empty(), Optional.empty());
          testContext.completeNow();
        })));
  }

  @Test
  public void simultaneousFirstAppendsToOneStreamLetExactlyOneWin(VertxTestContext testContext) {
    String stream = stream("race");
    int contenders = 50;
    List<Future<List<AppendOutcome>>> batches = new ArrayList<>();
    for (int i = 0; i < contenders; i++) {
      batches.add(storage.appendBatch(List.of(StreamAppend.of(stream, ExpectedVersion.NO_STREAM, event("Claim", i)))));
    }
    Future.all(batches)
        .compose(all -> storage.readStream(stream, 1, LATER_THAN_EVERY_EVENT))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          List<AppendOutcome> outcomes = batches.stream().map(batch -> batch.result().get(0)).toList();
          List<AppendOutcome> winners = outcomes.stream().filter(o -> o.failure() == null).toList();
          assertThat(winners).as("appends that found no stream").hasSize(1);
          outcomes.stream().filter(o -> o.failure() != null).forEach(o -> assertWrongExpectedVersion(o, stream, 1));
          assertThat(events).hasSize(1);
          assertThat(events.get(0).id()).isEqualTo(winners.get(0).result().eventIds().get(0));
          testContext.completeNow();
        })));
  }

  @Test
  public void simultaneousBatchesOverSharedStreamsNeverRepeatOrSkipAVersion(VertxTestContext testContext) {
    List<String> streams = List.of(stream("x"), stream("y"), stream("z"));
    int batchCount = 60;
    List<Future<List<AppendOutcome>>> batches = new ArrayList<>();
    for (int i = 0; i < batchCount; i++) {
      // Each batch names the streams in another order; the store must still serialize them without deadlock.
      List<StreamAppend> appends = new ArrayList<>();
      for (int j = 0; j < streams.size(); j++) {
        String target = streams.get((i + j) % streams.size());
        appends.add(StreamAppend.of(target, ExpectedVersion.ANY, event("Batch", i)));
      }
      if (i % 2 == 1) {
        Collections.reverse(appends);
      }
      batches.add(storage.appendBatch(appends));
    }
    List<List<RecordedEvent>> reads = new ArrayList<>();
    Future.all(batches)
        .compose(all -> storage.readStream(streams.get(0), 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(streams.get(1), 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .compose(read -> storage.readStream(streams.get(2), 1, LATER_THAN_EVERY_EVENT))
        .onSuccess(reads::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          List<Integer> everyVersion = IntStream.rangeClosed(1, batchCount).boxed().toList();
          for (int s = 0; s < streams.size(); s++) {
            String target = streams.get(s);
            List<Integer> granted = batches.stream().flatMap(batch -> batch.result().stream())
                .map(EventStorageContract::appended).filter(r -> r.streamId().equals(target))
                .map(AppendResult::firstVersion).sorted().toList();
            assertThat(granted).as("versions granted on " + target).containsExactlyElementsOf(everyVersion);
            assertThat(reads.get(s)).as("versions stored on " + target).extracting(RecordedEvent::streamVersion)
                .containsExactlyElementsOf(everyVersion);
          }
          testContext.completeNow();
        })));
  }

  @Test
  public void anUpsertChangesOnlyTheColumnsItNames(VertxTestContext testContext) {
    String stream = stream("partial");
    String key = prefix + "-key";
    List<Optional<Map<String, String>>> seen = new ArrayList<>();
    appendAlone(new StreamAppend(stream, ExpectedVersion.NO_STREAM, List.of(event("Stored", 1)),
            List.of(upsert(key, "first", "kept"))))
        .compose(first -> sideRow(key))
        .onSuccess(seen::add)
        .compose(read -> appendAlone(new StreamAppend(stream, ExpectedVersion.exactly(1), List.of(event("Stored", 2)),
            List.of(upsert(key, "second")))))
        .compose(second -> sideRow(key))
        .onSuccess(seen::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          assertThat(seen).containsExactly(Optional.of(Map.of("v", "first", "note", "kept")),
              Optional.of(Map.of("v", "second", "note", "kept")));
          testContext.completeNow();
        })));
  }

  @Test
  public void removalsAndUpsertsOfDistinctKeysCommitOnlyWithTheirAcceptedAppends(VertxTestContext testContext) {
    String removed = prefix + "-removed";
    String keptByFailure = prefix + "-kept-by-failure";
    String added = prefix + "-added";
    String notAdded = prefix + "-not-added";
    String stream = stream("distinct");
    List<Optional<String>> seen = new ArrayList<>();
    AtomicReference<List<AppendOutcome>> outcomes = new AtomicReference<>();
    storage.appendBatch(List.of(StreamAppend.rowsOnly(stream, List.of(upsert(removed, "v"), upsert(keptByFailure, "v")))))
        .compose(setUp -> storage.appendBatch(List.of(
            new StreamAppend(stream, ExpectedVersion.NO_STREAM, List.of(event("E", 1)),
                List.of(SideRow.removal(SIDE_TABLE, Map.of("k", removed)), upsert(added, "v"))),
            new StreamAppend(stream("other"), ExpectedVersion.exactly(4), List.of(event("E", 2)),
                List.of(SideRow.removal(SIDE_TABLE, Map.of("k", keptByFailure)), upsert(notAdded, "v"))))))
        .onSuccess(outcomes::set)
        .compose(batch -> sideValue(removed))
        .onSuccess(seen::add)
        .compose(read -> sideValue(keptByFailure))
        .onSuccess(seen::add)
        .compose(read -> sideValue(added))
        .onSuccess(seen::add)
        .compose(read -> sideValue(notAdded))
        .onSuccess(seen::add)
        .onComplete(testContext.succeeding(read -> testContext.verify(() -> {
          appended(outcomes.get().get(0));
          assertWrongExpectedVersion(outcomes.get().get(1), stream("other"), 0);
          assertThat(seen).as("removed and added by the accepted append; kept and not added by the failed one")
              .containsExactly(Optional.empty(), Optional.of("v"), Optional.of("v"), Optional.empty());
          testContext.completeNow();
        })));
  }

  @Test
  public void sideRowsOfOneBatchApplyInAppendOrder(VertxTestContext testContext) {
    String key = prefix + "-key";
    AtomicReference<List<AppendOutcome>> outcomes = new AtomicReference<>();
    // The middle row names another set of columns than its neighbours; the last append must still win.
    storage.appendBatch(List.of(
            new StreamAppend(stream("one"), ExpectedVersion.NO_STREAM, List.of(event("E", 1)),
                List.of(upsert(key, "one"))),
            new StreamAppend(stream("two"), ExpectedVersion.NO_STREAM, List.of(event("E", 2)),
                List.of(upsert(key, "two", "from two"))),
            new StreamAppend(stream("three"), ExpectedVersion.NO_STREAM, List.of(event("E", 3)),
                List.of(upsert(key, "three")))))
        .onSuccess(outcomes::set)
        .compose(batch -> sideRow(key))
        .onComplete(testContext.succeeding(row -> testContext.verify(() -> {
          assertThat(outcomes.get()).allSatisfy(outcome -> appended(outcome));
          assertThat(row).contains(Map.of("v", "three", "note", "from two"));
          testContext.completeNow();
        })));
  }

  @Test
  public void rowsOnlyAreWrittenInBatchOrderWithoutEventsOrVersions(VertxTestContext testContext) {
    String key = prefix + "-rows-only";
    String stream = stream("rows-only");
    AtomicReference<List<AppendOutcome>> outcomes = new AtomicReference<>();
    List<Optional<String>> seen = new ArrayList<>();
    storage.appendBatch(List.of(
            new StreamAppend(stream("before"), ExpectedVersion.NO_STREAM, List.of(event("E", 1)),
                List.of(upsert(key, "before"))),
            StreamAppend.rowsOnly(stream, List.of(upsert(key, "rows only"))),
            new StreamAppend(stream("failed"), ExpectedVersion.exactly(3), List.of(event("E", 2)),
                List.of(upsert(key, "from a failed append")))))
        .onSuccess(outcomes::set)
        .compose(batch -> sideValue(key))
        .onSuccess(seen::add)
        .compose(read -> storage.appendBatch(List.of(StreamAppend.rowsOnly(stream, List.of(upsert(key, "alone"))))))
        .compose(batch -> sideValue(key))
        .onSuccess(seen::add)
        .compose(read -> storage.readStream(stream, 1, Instant.MAX))
        .onComplete(testContext.succeeding(events -> testContext.verify(() -> {
          assertThat(appended(outcomes.get().get(1))).isEqualTo(new AppendResult(stream, 0, 0, List.of()));
          assertWrongExpectedVersion(outcomes.get().get(2), stream("failed"), 0);
          assertThat(seen).containsExactly(Optional.of("rows only"), Optional.of("alone"));
          assertThat(events).as("rows only append no event").isEmpty();
          testContext.completeNow();
        })));
  }

  /**
   * Appends to three streams in five batches, one batch at a time, and notes each event as
   * {@code stream:version} in the order written, which is the global order they must be read in.
   */
  private Future<Void> writeInterleaved(List<String> written) {
    String a = stream("a");
    String b = stream("b");
    String c = stream("c");
    List<List<StreamAppend>> batches = List.of(
        List.of(StreamAppend.of(a, ExpectedVersion.NO_STREAM, event("E", 1), event("E", 2))),
        List.of(StreamAppend.of(b, ExpectedVersion.NO_STREAM, event("E", 3)),
            StreamAppend.of(a, ExpectedVersion.exactly(2), event("E", 4))),
        List.of(StreamAppend.of(c, ExpectedVersion.ANY, event("E", 5))),
        List.of(StreamAppend.of(b, ExpectedVersion.exactly(1), event("E", 6), event("E", 7)),
            StreamAppend.of(c, ExpectedVersion.exactly(1), event("E", 8))),
        List.of(StreamAppend.of(a, ExpectedVersion.exactly(3), event("E", 9))));
    Future<Void> chain = Future.succeededFuture();
    for (List<StreamAppend> batch : batches) {
      chain = chain.compose(previous -> storage.appendBatch(batch)).map(outcomes -> {
        for (int i = 0; i < outcomes.size(); i++) {
          AppendResult result = appended(outcomes.get(i));
          for (int version = result.firstVersion(); version <= result.lastVersion(); version++) {
            written.add(batch.get(i).streamId() + ":" + version);
          }
        }
        return null;
      });
    }
    return chain;
  }

  /**
   * Pages through the global order from {@code after}, {@code pageSize} at a time, until this
   * test's {@code expected} events have all been seen, and returns every event read on the way.
   */
  private Future<List<RecordedEvent>> readAllFrom(GlobalCheckpoint after, int pageSize, int expected) {
    Instant deadline = Instant.now().plus(READ_ALL_PATIENCE);
    return page(after, pageSize, new ArrayList<>(), events -> mine(events).size() >= expected, deadline);
  }

  private Future<List<RecordedEvent>> page(GlobalCheckpoint after, int pageSize, List<RecordedEvent> seen,
      Predicate<List<RecordedEvent>> enough, Instant deadline) {
    if (enough.test(seen)) {
      return Future.succeededFuture(seen);
    }
    if (Instant.now().isAfter(deadline)) {
      return Future.failedFuture(new AssertionError("readAll did not return this test's events within "
          + READ_ALL_PATIENCE + "; read " + seen.size() + " events, " + mine(seen).size() + " of them this test's"));
    }
    return storage.readAll(after, pageSize).compose(events -> {
      seen.addAll(events);
      if (events.isEmpty()) {
        return vertx.timer(READ_ALL_POLL.toMillis()).compose(t -> page(after, pageSize, seen, enough, deadline));
      }
      assertThat(events).as("a page is at most the limit").hasSizeLessThanOrEqualTo(pageSize);
      return page(events.get(events.size() - 1).checkpoint(), pageSize, seen, enough, deadline);
    });
  }

  private Future<AppendOutcome> appendAlone(StreamAppend append) {
    return storage.appendBatch(List.of(append)).map(outcomes -> {
      assertThat(outcomes).hasSize(1);
      return outcomes.get(0);
    });
  }

  private String stream(String name) {
    return prefix + "-" + name;
  }

  private List<RecordedEvent> mine(List<RecordedEvent> events) {
    return events.stream().filter(e -> e.streamId().startsWith(prefix + "-")).toList();
  }

  private String label(RecordedEvent event) {
    return event.streamId() + ":" + event.streamVersion();
  }

  private static NewEvent event(String type, int n) {
    return new NewEvent(type, new JsonObject().put("n", n), new JsonObject().put("test", true));
  }

  private static SideRow upsert(String k, String v) {
    return new SideRow(SIDE_TABLE, Map.of("k", k, "v", v), List.of("k"));
  }

  private static SideRow upsert(String k, String v, String note) {
    return new SideRow(SIDE_TABLE, Map.of("k", k, "v", v, "note", note), List.of("k"));
  }

  /** Column {@code v} of the side-table row with key {@code k}, empty when there is no such row. */
  private Future<Optional<String>> sideValue(String k) {
    return sideRow(k).map(row -> row.map(columns -> columns.get("v")));
  }

  private static Instant recordedAt(List<RecordedEvent> events, int index) {
    return events.get(index).recordedAt();
  }

  private static AppendResult appended(AppendOutcome outcome) {
    assertThat(outcome.failure()).as("append failure").isNull();
    return outcome.result();
  }

  private static void assertWrongExpectedVersion(AppendOutcome outcome, String stream, int actual) {
    AsyncResult<AppendResult> settled = outcome.toFuture();
    assertThat(settled.failed()).as("append to " + stream + " failed").isTrue();
    assertThat(settled.cause()).isInstanceOfSatisfying(WrongExpectedVersion.class, wrong -> {
      assertThat(wrong.streamId()).isEqualTo(stream);
      assertThat(wrong.actualVersion()).isEqualTo(actual);
      assertThat(wrong).hasMessageContaining("version " + actual);
    });
    assertThat(outcome.result()).isNull();
  }

  private static void assertStrictlyIncreasing(List<RecordedEvent> events) {
    for (int i = 1; i < events.size(); i++) {
      assertThat(events.get(i).checkpoint()).as("checkpoint of event %d of the global order", i)
          .isGreaterThan(events.get(i - 1).checkpoint());
    }
  }
}
