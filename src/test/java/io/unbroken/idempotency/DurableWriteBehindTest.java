package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.events.SideRow;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** How durable answers of routes without events reach the store: gathered, then written together. */
@ExtendWith(VertxExtension.class)
class DurableWriteBehindTest {

  /** Keeps what each write was given; every write succeeds, at once or, when held, once released. */
  private static final class RecordingAnswers implements DurableAnswers {
    final List<List<DurableAnswer>> writes = new CopyOnWriteArrayList<>();
    final List<Promise<Void>> held = new CopyOnWriteArrayList<>();
    private final boolean holdWrites;

    RecordingAnswers() {
      this(false);
    }

    RecordingAnswers(boolean holdWrites) {
      this.holdWrites = holdWrites;
    }

    @Override
    public Optional<SideRow> sideRow(DurableAnswer answer) {
      return Optional.empty();
    }

    @Override
    public Future<Void> saveAll(List<DurableAnswer> answers) {
      writes.add(List.copyOf(answers));
      if (!holdWrites) {
        return Future.succeededFuture();
      }
      Promise<Void> written = Promise.promise();
      held.add(written);
      return written.future();
    }

    @Override
    public Future<Optional<Claim>> find(String scopeKey, String fingerprint) {
      return Future.succeededFuture(Optional.empty());
    }

    @Override
    public Future<Integer> purgeExpired() {
      return Future.succeededFuture(0);
    }

    @Override
    public Future<Void> forEachLiveKey(Consumer<List<String>> keys) {
      return Future.succeededFuture();
    }
  }

  @Test
  void answersWithinTheWindowShareOneWrite(Vertx vertx, VertxTestContext testContext) {
    RecordingAnswers store = new RecordingAnswers();
    DurableWriteBehind writer = new DurableWriteBehind(vertx, store, Duration.ofMillis(400));
    // Twenty answers 5 ms apart, each in an event-loop turn of its own.
    for (int i = 0; i < 20; i++) {
      String key = Integer.toString(i);
      vertx.setTimer(1 + 5L * i, t -> writer.add(answer(key)));
    }

    vertx.setTimer(1000, t -> testContext.verify(() -> {
      assertThat(store.writes).hasSize(1);
      assertThat(store.writes.get(0)).hasSize(20);
      testContext.completeNow();
    }));
  }

  @Test
  void aThousandAnswersGoWithoutWaitingForTheWindowInUnitsOfAtMostAThousand(Vertx vertx,
      VertxTestContext testContext) {
    RecordingAnswers store = new RecordingAnswers();
    DurableWriteBehind writer = new DurableWriteBehind(vertx, store, Duration.ofSeconds(1));
    vertx.runOnContext(v -> addInOneTurn(writer, 2500));

    vertx.setTimer(500, t -> testContext.verify(() -> {
      assertThat(store.writes).extracting(List::size).containsExactly(1000, 1000, 500);
      testContext.completeNow();
    }));
  }

  @Test
  void aFullUnitSentEarlyLeavesTheWindowAsItWas(Vertx vertx, VertxTestContext testContext) {
    RecordingAnswers store = new RecordingAnswers();
    DurableWriteBehind writer = new DurableWriteBehind(vertx, store, Duration.ofSeconds(1));
    vertx.runOnContext(v -> addInOneTurn(writer, 1000));
    // The first joins the window opened with the full unit (ends at 1 s); the second opens the next (ends at 2.1 s).
    vertx.setTimer(600, t -> writer.add(answer("early")));
    vertx.setTimer(1100, t -> writer.add(answer("late")));

    vertx.setTimer(1800, t -> testContext.verify(() -> {
      assertThat(store.writes).extracting(List::size).containsExactly(1000, 1);
      testContext.completeNow();
    }));
  }

  @Test
  void answersStillGatheringAreWrittenAtOnceWhenFlushed(Vertx vertx, VertxTestContext testContext) {
    RecordingAnswers store = new RecordingAnswers();
    DurableWriteBehind writer = new DurableWriteBehind(vertx, store, Duration.ofSeconds(1));
    vertx.runOnContext(v -> {
      writer.add(answer("1"));
      writer.flush().onComplete(testContext.succeeding(flushed -> testContext.verify(() -> {
        assertThat(store.writes).hasSize(1);
        testContext.completeNow();
      })));
    });
  }

  @Test
  void aFlushWaitsForTheWriteAnotherTurnStartedWithTheAnswersItTook(Vertx vertx, VertxTestContext testContext) {
    RecordingAnswers store = new RecordingAnswers(true);
    DurableWriteBehind writer = new DurableWriteBehind(vertx, store, Duration.ZERO);
    // Without a window the answer goes on the next turn, and its write stays under way until released.
    vertx.runOnContext(v -> writer.add(answer("1")));

    vertx.setTimer(200, t -> {
      Future<Void> flushed = writer.flush();
      testContext.verify(() -> {
        assertThat(store.writes).as("the turn's write took the answer").hasSize(1);
        assertThat(flushed.isComplete()).as("a flush while that write is under way").isFalse();
      });
      store.held.forEach(Promise::complete);
      flushed.onComplete(testContext.succeedingThenComplete());
    });
  }

  private static void addInOneTurn(DurableWriteBehind writer, int answers) {
    for (int i = 0; i < answers; i++) {
      writer.add(answer(Integer.toString(i)));
    }
  }

  private static DurableAnswer answer(String key) {
    return new DurableAnswer(key, "fp", StoredAnswer.UNKNOWN, "request-" + key, Duration.ofMinutes(1));
  }
}
