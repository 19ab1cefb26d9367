package io.unbroken.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A request's life as the event store records it, per route setting ({@code events: sync | async |
 * off}), through a real gateway node with its events in a fresh PostgreSQL database, and the
 * admin API's view of it at any time.
 */
class RequestLifecycleIT {

  private static final Duration DEADLINE = Duration.ofSeconds(10);
  private static final String CUT = "/sync-cut";

  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenNode node;
  private static TestClient gateway;
  private static TestClient admin;
  private static Pool database;

  @BeforeAll
  static void startNode() {
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    String up = "http://127.0.0.1:" + upstreamPort;
    String refused = "http://127.0.0.1:" + FreePorts.next();
    List<RouteConfig> routes = new ArrayList<>();
    for (EventsMode mode : EventsMode.values()) {
      String prefix = "/" + mode.name().toLowerCase(Locale.ROOT);
      routes.add(TestNodes.route(prefix, up, Duration.ofSeconds(5), mode));
      routes.add(TestNodes.route(prefix + "-refused", refused, Duration.ofSeconds(5), mode));
      routes.add(TestNodes.route(prefix + "-slow", up, Duration.ofMillis(300), mode));
      upstream.on(prefix + "-slow", request -> { /* never answers */ });
    }
    routes.add(TestNodes.route(CUT, up, Duration.ofSeconds(2), EventsMode.SYNC));
    UnbrokenConfig.Postgres postgres = TestServices.freshDatabase("request_lifecycle");
    UnbrokenConfig config = TestNodes.withCommitWindow(TestNodes.onPostgres(postgres, routes));
    database = PostgresConnector.create(vertx, postgres);
    node = Await.result(UnbrokenNode.start(config));
    gateway = new TestClient(vertx, config.server().port(), 16);
    admin = new TestClient(vertx, config.admin().port(), 4);
  }

  @AfterAll
  static void stopNode() {
    try {
      if (node != null) {
        Await.result(node.close());
      }
    } finally {
      Await.result(vertx.close());
    }
  }

  @ParameterizedTest
  @EnumSource(value = EventsMode.class, names = {"SYNC", "ASYNC"})
  void answeredRequestIsAcceptedForwardedAndCompleted(EventsMode mode) {
    Answer answer = gateway.get(path(mode, "") + "/orders/1");

    assertThat(answer.status()).isEqualTo(200);
    String requestId = answer.requestId();
    List<RecordedEvent> events = mode == EventsMode.SYNC
        ? stream(requestId) // recorded before the answer was sent: no waiting
        : eventsOnceEnded(requestId);
    assertThat(events).extracting(RecordedEvent::type)
        .containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED, RequestLifecycle.COMPLETED);
    assertThat(events).extracting(RecordedEvent::streamVersion).containsExactly(1, 2, 3);
    assertThat(events).allSatisfy(event -> {
      assertThat(event.streamId()).isEqualTo("request-" + requestId);
      assertThat(event.metadata().getString("requestId")).isEqualTo(requestId);
      assertThat(event.metadata().getString("node")).isEqualTo(node.nodeId());
    });
    assertThat(events.get(0).data().getString("method")).isEqualTo("GET");
    assertThat(events.get(0).data().getString("path")).isEqualTo(path(mode, "") + "/orders/1");
    assertThat(events.get(1).data().getString("upstream")).startsWith("http://127.0.0.1:");
    assertThat(events.get(2).data().getInteger("status")).isEqualTo(200);
    assertThat(upstream.received())
        .anySatisfy(seen -> assertThat(seen.headers.get("X-Request-Id")).isEqualTo(requestId));
  }

  @Test
  void offRoutesRecordNothing() {
    Answer ok = gateway.get("/off/orders/1");
    Answer refused = gateway.get("/off-refused/orders/1");
    Answer slow = gateway.get("/off-slow/orders/1");
    // A sync request recorded after them: the writer had every earlier append by the time it committed.
    Answer later = gateway.get("/sync/orders/2");

    assertThat(List.of(ok.status(), refused.status(), slow.status(), later.status()))
        .containsExactly(200, 502, 504, 200);
    assertThat(stream(later.requestId())).hasSize(3);
    for (Answer answer : List.of(ok, refused, slow)) {
      assertThat(stream(answer.requestId())).as("events of %s", answer.requestId()).isEmpty();
      JsonObject timeline = admin.get("/admin/requests/" + answer.requestId()).json();
      assertThat(timeline.getString("status")).isEqualTo("unknown");
      assertThat(timeline.getJsonArray("events")).isEmpty();
    }
  }

  @ParameterizedTest
  @EnumSource(value = EventsMode.class, names = {"SYNC", "ASYNC"})
  void refusedUpstreamIsRecordedAsFailed(EventsMode mode) {
    Answer answer = gateway.get(path(mode, "-refused") + "/orders/1");

    assertThat(answer.status()).isEqualTo(502);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:upstream-unreachable");
    List<RecordedEvent> events = mode == EventsMode.SYNC
        ? stream(answer.requestId()) // recorded before the problem was sent: no waiting
        : eventsOnceEnded(answer.requestId());
    assertThat(events).extracting(RecordedEvent::type)
        .containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED, RequestLifecycle.FAILED);
    assertThat(events.get(2).streamVersion()).isEqualTo(3);
    assertThat(events.get(2).data().getString("reason")).isEqualTo("upstream-unreachable");
    assertThat(events.get(2).data().getInteger("status")).isEqualTo(502);
    JsonObject timeline = admin.get("/admin/requests/" + answer.requestId()).json();
    assertThat(timeline.getString("status")).isEqualTo("failed");
    assertThat(types(timeline)).containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED,
        RequestLifecycle.FAILED);
  }

  @ParameterizedTest
  @EnumSource(value = EventsMode.class, names = {"SYNC", "ASYNC"})
  void routeTimeoutIsRecordedAsCancelled(EventsMode mode) {
    Answer answer = gateway.get(path(mode, "-slow") + "/orders/1");

    assertThat(answer.status()).isEqualTo(504);
    assertThat(answer.problem().getString("type")).isEqualTo("urn:unbroken:problem:upstream-timeout");
    List<RecordedEvent> events = eventsOnceEnded(answer.requestId());
    assertThat(events).extracting(RecordedEvent::type)
        .containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED, RequestLifecycle.CANCELLED);
    assertThat(events.get(2).data().getString("reason")).isEqualTo("upstream-timeout");
    assertThat(events.get(2).data().getInteger("status")).isEqualTo(504);
    JsonObject timeline = admin.get("/admin/requests/" + answer.requestId()).json();
    assertThat(timeline.getString("status")).isEqualTo("cancelled");
  }

  @Test
  void aFailureWhoseRecordIsHeldUpStillEndsAtTheRouteDeadline() {
    AtomicReference<Runnable> cut = new AtomicReference<>();
    upstream.on(CUT, request -> {
      Context context = Vertx.currentContext();
      cut.set(() -> context.runOnContext(v -> request.connection().close()));
    });
    Future<Answer> pending = gateway.begin(HttpMethod.GET, CUT + "/orders/1");
    Await.until("the upstream holds the request", DEADLINE, () -> cut.get() != null);
    SqlConnection locker = Await.result(database.getConnection());
    try {
      Transaction holding = Await.result(locker.begin());
      // Every append now waits, the failure's record among them, until the lock goes.
      Await.result(locker.query("LOCK TABLE streams IN SHARE MODE").execute());
      cut.get().run();
      Answer answer = Await.result(pending);
      Await.result(holding.rollback());
      assertThat(answer.status()).as("answered at the route's deadline, not once the record is written")
          .isEqualTo(504);
    } finally {
      Await.result(locker.close());
    }
  }

  @Test
  void adminTimelineShowsTheStatusAsOfAnyTime() {
    AtomicReference<Runnable> release = new AtomicReference<>();
    upstream.on("/sync/held", request -> {
      Context context = Vertx.currentContext();
      release.set(() -> context.runOnContext(v -> request.response().end("done")));
    });
    Future<Answer> pending = gateway.begin(HttpMethod.GET, "/sync/held/1");
    Await.until("the upstream holds the request", DEADLINE, () -> release.get() != null);
    String requestId = upstream.received().stream().filter(seen -> seen.uri.equals("/sync/held/1"))
        .findFirst().orElseThrow().headers.get("X-Request-Id");
    JsonObject whileHeld = admin.get("/admin/requests/" + requestId).json();
    release.get().run();
    Answer answer = Await.result(pending);

    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.requestId()).isEqualTo(requestId);
    assertThat(whileHeld.getString("status")).isEqualTo("forwarded");
    JsonObject now = admin.get("/admin/requests/" + requestId).json();
    assertThat(now.getString("stream")).isEqualTo("request-" + requestId);
    assertThat(now.getString("status")).isEqualTo("completed");
    assertThat(types(now)).containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED,
        RequestLifecycle.COMPLETED);
    Instant accepted = recordedAt(now, 0);
    Instant completed = recordedAt(now, 2);
    assertThat(completed).isAfter(accepted);

    Instant between = accepted.plus(Duration.between(accepted, completed).dividedBy(2)).truncatedTo(ChronoUnit.MICROS);
    JsonObject then = admin.get("/admin/requests/" + requestId + "?asOf=" + between).json();
    assertThat(then.getString("status")).isEqualTo("forwarded");
    assertThat(then.getString("asOf")).isEqualTo(between.toString());
    assertThat(types(then)).containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED);

    JsonObject before = admin.get("/admin/requests/" + requestId + "?asOf=" + accepted.minusMillis(1)).json();
    assertThat(before.getString("status")).isEqualTo("unknown");
    assertThat(before.getJsonArray("events")).isEmpty();

    JsonObject sameStream = admin.get("/admin/streams/request-" + requestId + "?asOf=" + between).json();
    assertThat(types(sameStream)).containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED);
  }

  @Test
  void aBadAsOfIsA400Problem() {
    Answer answer = admin.get("/admin/requests/1?asOf=yesterday");

    assertThat(answer.status()).isEqualTo(400);
    JsonObject problem = answer.problem();
    assertThat(problem.getString("type")).isEqualTo("urn:unbroken:problem:bad-as-of");
    assertThat(problem.getInteger("status")).isEqualTo(400);
    assertThat(problem.getString("detail")).contains("yesterday");
  }

  private static String path(EventsMode mode, String suffix) {
    return "/" + mode.name().toLowerCase(Locale.ROOT) + suffix;
  }

  private static List<RecordedEvent> stream(String requestId) {
    return Await.result(node.eventStore().readStream(RequestLifecycle.streamOf(requestId), 1, Instant.now()));
  }

  /** The request's events once its terminal event is recorded (written behind the answer). */
  private static List<RecordedEvent> eventsOnceEnded(String requestId) {
    AtomicReference<List<RecordedEvent>> events = new AtomicReference<>(List.of());
    Await.until("request " + requestId + " has its terminal event", DEADLINE, () -> {
      events.set(stream(requestId));
      return events.get().size() >= 3;
    });
    return events.get();
  }

  private static List<String> types(JsonObject timeline) {
    JsonArray events = timeline.getJsonArray("events");
    List<String> types = new ArrayList<>();
    for (int i = 0; i < events.size(); i++) {
      types.add(events.getJsonObject(i).getString("type"));
    }
    return types;
  }

  private static Instant recordedAt(JsonObject timeline, int index) {
    return Instant.parse(timeline.getJsonArray("events").getJsonObject(index).getString("recordedAt"));
  }
}
