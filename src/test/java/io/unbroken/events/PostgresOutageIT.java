package io.unbroken.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.PrivatePostgres;
import io.unbroken.testing.TestClient;
import io.unbroken.testing.TestClient.Answer;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A sync route while its PostgreSQL goes away and comes back: no request is forwarded unrecorded
 * (503 {@code events-unavailable}, the upstream never called), and once the server is back the
 * route serves again by itself. The server is a private one, so stopping it disturbs nobody.
 */
class PostgresOutageIT {

  private static final Duration RECOVERY = Duration.ofSeconds(30);

  private static PrivatePostgres postgres;
  private static Vertx vertx;
  private static TestUpstream upstream;
  private static UnbrokenNode node;
  private static TestClient gateway;

  @BeforeAll
  static void startNodeOnAPrivateServer() {
    postgres = PrivatePostgres.start();
    UnbrokenConfig.Postgres database = postgres.createDatabase("unbroken_outage", 4);
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    UnbrokenConfig config = TestNodes.onPostgres(database, List.of(
        TestNodes.route("/pay", "http://127.0.0.1:" + upstreamPort, Duration.ofSeconds(5), EventsMode.SYNC)));
    node = Await.result(UnbrokenNode.start(config));
    gateway = new TestClient(vertx, config.server().port(), 8);
  }

  @AfterAll
  static void stopEverything() {
    try {
      if (node != null) {
        Await.result(node.close());
      }
      if (vertx != null) {
        Await.result(vertx.close());
      }
    } finally {
      if (postgres != null) {
        postgres.close();
      }
    }
  }

  @Test
  void syncRouteRefusesWhileTheDatabaseIsDownAndRecoversByItself() {
    List<String> before = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Answer answer = gateway.get("/pay/before/" + i);
      assertThat(answer.status()).isEqualTo(200);
      before.add(answer.requestId());
    }
    assertThat(upstream.received()).hasSize(5);

    postgres.stopServer();
    upstream.clear();
    for (int i = 0; i < 5; i++) {
      Answer answer = gateway.get("/pay/during/" + i);
      assertThat(answer.status()).as("answer %s while the database is down", i).isEqualTo(503);
      assertEventsUnavailable(answer);
    }
    assertThat(upstream.received()).as("requests forwarded while nothing could record them").isEmpty();

    postgres.startServer();
    AtomicReference<Answer> recovered = new AtomicReference<>();
    List<Integer> statuses = new ArrayList<>();
    Await.until("the sync route answers 200 again", RECOVERY, () -> {
      Answer answer = gateway.get("/pay/after");
      statuses.add(answer.status());
      recovered.set(answer);
      return answer.status() == 200;
    });

    assertThat(statuses).as("answers while the pool reconnects").allMatch(status -> status == 200 || status == 503);
    assertThat(upstream.received()).as("only the request answered 200 reached the upstream").hasSize(1);
    String requestId = recovered.get().requestId();
    assertThat(upstream.received().get(0).headers.get("X-Request-Id")).isEqualTo(requestId);
    assertThat(types(requestId)).containsExactly(RequestLifecycle.ACCEPTED, RequestLifecycle.FORWARDED,
        RequestLifecycle.COMPLETED);
    for (String earlier : before) {
      assertThat(types(earlier)).as("events of %s, recorded before the outage", earlier).hasSize(3);
    }
  }

  private static List<String> types(String requestId) {
    return Await.result(node.eventStore().readStream(RequestLifecycle.streamOf(requestId), 1, Instant.now()))
        .stream().map(RecordedEvent::type).toList();
  }

  private static void assertEventsUnavailable(Answer answer) {
    JsonObject problem = answer.problem();
    assertThat(problem.getString("type")).isEqualTo("urn:unbroken:problem:events-unavailable");
    assertThat(problem.getInteger("status")).isEqualTo(503);
    assertThat(problem.getString("requestId")).isEqualTo(answer.requestId());
  }
}
