package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.RouteConfig;
import io.unbroken.events.AppendResult;
import io.unbroken.events.EventStore;
import io.unbroken.events.GlobalCheckpoint;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.unbroken.zombie.InflightRequest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** How rows of requests without events reach the event store: gathered, then written together. */
@ExtendWith(VertxExtension.class)
class RequestJournalTest {

  private static final RouteConfig NO_EVENTS = new RouteConfig("/orders", URI.create("http://127.0.0.1:1"), Set.of(),
      Duration.ofSeconds(5), 1024, EventsMode.OFF, IdempotencyPolicy.DISABLED);

  /** Keeps what was appended; every append succeeds. */
  private static final class RecordingStore implements EventStore {
    final List<StreamAppend> appends = new CopyOnWriteArrayList<>();

    @Override
    public Future<AppendResult> append(StreamAppend append) {
      appends.add(append);
      return Future.succeededFuture(new AppendResult(append.streamId(), 0, 0, List.of()));
    }

    @Override
    public Future<List<RecordedEvent>> readStream(String streamId, int fromVersion, Instant upTo) {
      return Future.succeededFuture(List.of());
    }

    @Override
    public Future<List<RecordedEvent>> readAll(GlobalCheckpoint after, int limit) {
      return Future.succeededFuture(List.of());
    }
  }

  @Test
  void rowsOfRequestsAnsweredWithinTheWindowShareOneAppend(Vertx vertx, VertxTestContext testContext) {
    RecordingStore store = new RecordingStore();
    RequestJournal journal = journal(vertx, store, Duration.ofMillis(400));
    // Twenty requests answered 5 ms apart, each in an event-loop turn of its own.
    for (int i = 0; i < 20; i++) {
      String requestId = Integer.toString(i);
      vertx.setTimer(1 + 5L * i, t -> close(journal, requestId));
    }

    vertx.setTimer(1000, t -> testContext.verify(() -> {
      assertThat(store.appends).hasSize(1);
      assertThat(store.appends.get(0).sideRows()).hasSize(20);
      testContext.completeNow();
    }));
  }

  @Test
  void aThousandRowsGoWithoutWaitingForTheWindowInUnitsOfAtMostAThousand(Vertx vertx,
      VertxTestContext testContext) {
    RecordingStore store = new RecordingStore();
    RequestJournal journal = journal(vertx, store, Duration.ofSeconds(1));
    vertx.runOnContext(v -> closeInOneTurn(journal, 2500));

    vertx.setTimer(500, t -> testContext.verify(() -> {
      assertThat(store.appends).extracting(append -> append.sideRows().size()).containsExactly(1000, 1000, 500);
      testContext.completeNow();
    }));
  }

  @Test
  void aFullUnitSentEarlyLeavesTheWindowAsItWas(Vertx vertx, VertxTestContext testContext) {
    RecordingStore store = new RecordingStore();
    RequestJournal journal = journal(vertx, store, Duration.ofSeconds(1));
    vertx.runOnContext(v -> closeInOneTurn(journal, 1000));
    // The first joins the window opened with the full unit (ends at 1 s); the second opens the next (ends at 2.1 s).
    vertx.setTimer(600, t -> close(journal, "early"));
    vertx.setTimer(1100, t -> close(journal, "late"));

    vertx.setTimer(1800, t -> testContext.verify(() -> {
      assertThat(store.appends).extracting(append -> append.sideRows().size()).containsExactly(1000, 1);
      testContext.completeNow();
    }));
  }

  @Test
  void rowsStillGatheringAreWrittenAtOnceWhenFlushed(Vertx vertx, VertxTestContext testContext) {
    RecordingStore store = new RecordingStore();
    RequestJournal journal = journal(vertx, store, Duration.ofSeconds(1));
    vertx.runOnContext(v -> {
      close(journal, "1");
      journal.flushRows().onComplete(testContext.succeeding(flushed -> testContext.verify(() -> {
        assertThat(store.appends).hasSize(1);
        testContext.completeNow();
      })));
    });
  }

  private static RequestJournal journal(Vertx vertx, RecordingStore store, Duration writeBehind) {
    return new RequestJournal(vertx, store, "node", 100, writeBehind, new SimpleMeterRegistry());
  }

  private static void closeInOneTurn(RequestJournal journal, int requests) {
    for (int i = 0; i < requests; i++) {
      close(journal, Integer.toString(i));
    }
  }

  private static void close(RequestJournal journal, String requestId) {
    InflightRequest inflight = new InflightRequest(requestId, "node", "/r", "POST", "/r", "127.0.0.1", "", "",
        Instant.now(), 1_000);
    journal.open(inflight, NO_EVENTS, JsonObject::new)
        .compose(entry -> journal.close(entry, RequestLifecycle.COMPLETED, new JsonObject(), List.of(row(requestId))));
  }

  private static SideRow row(String requestId) {
    return new SideRow("idempotency_records", Map.of("scope_key", requestId), List.of("scope_key"));
  }
}
