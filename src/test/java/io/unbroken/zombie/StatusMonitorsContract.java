package io.unbroken.zombie;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.testing.Await;
import io.unbroken.zombie.StatusMonitors.Monitor;
import io.unbroken.zombie.StatusMonitors.State;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * What every {@link StatusMonitors} store promises: a poll keeps a running request's heartbeat
 * alive, a heartbeat not kept lapses (and a late poll does not revive it), an answer or an end is
 * kept for the monitor's {@code keep} and then forgotten, and an unknown request has no monitor.
 */
public abstract class StatusMonitorsContract {

  protected static final Duration HEARTBEAT = Duration.ofMillis(600);
  private static final Duration KEEP = Duration.ofSeconds(2);

  protected abstract StatusMonitors createStore(Vertx vertx, String testName);

  /** Lets {@code duration} of the store's time pass. */
  protected abstract void letTimePass(Duration duration);

  private Vertx vertx;
  private StatusMonitors store;

  @BeforeEach
  void start(TestInfo test) {
    vertx = Vertx.vertx();
    store = createStore(vertx, test.getTestMethod().orElseThrow().getName());
  }

  @AfterEach
  void stop() {
    Await.result(vertx.close());
  }

  @Test
  public void pollsKeepARunningRequestHeardAndAMissedHeartbeatLapsesForGood() {
    String id = open();
    assertThat(Await.result(store.heard(id))).as("just opened").isTrue();
    for (int i = 0; i < 3; i++) {
      letTimePass(HEARTBEAT.dividedBy(2));
      Optional<Monitor> polled = Await.result(store.poll(id));
      assertThat(polled).hasValueSatisfying(monitor -> {
        assertThat(monitor.state()).isEqualTo(State.RUNNING);
        assertThat(monitor.heartbeat()).isEqualTo(HEARTBEAT);
      });
    }
    assertThat(Await.result(store.heard(id))).as("polled every half heartbeat").isTrue();
    letTimePass(HEARTBEAT.multipliedBy(2));
    assertThat(Await.result(store.heard(id))).as("no poll for two heartbeats").isFalse();
    Await.result(store.poll(id));
    assertThat(Await.result(store.heard(id))).as("a poll after the lapse does not revive it").isFalse();
  }

  @Test
  public void anAnswerIsKeptForKeepThenForgotten() {
    String id = open();
    StoredAnswer answer = new StoredAnswer(201, List.of(Map.entry("Location", "/orders/7")), Buffer.buffer("made"));
    Await.result(store.answered(id, answer));

    Monitor monitor = Await.result(store.poll(id)).orElseThrow();
    assertThat(monitor.state()).isEqualTo(State.ANSWERED);
    assertThat(monitor.answer()).hasValueSatisfying(kept -> {
      assertThat(kept.status()).isEqualTo(201);
      assertThat(kept.headers()).containsExactly(Map.entry("Location", "/orders/7"));
      assertThat(kept.body()).isEqualTo(Buffer.buffer("made"));
    });
    letTimePass(KEEP.plus(HEARTBEAT));
    assertThat(Await.result(store.poll(id))).as("past keep").isEmpty();
    Await.result(store.purgeExpired()); // a store that keeps expired monitors around drops them now
    assertThat(Await.result(store.poll(id))).isEmpty();
  }

  @Test
  public void anEndIsKeptWithItsReasonAndSettlesOnce() {
    String id = open();
    Await.result(store.ended(id, "client-heartbeat-lost"));
    Await.result(store.answered(id, new StoredAnswer(200, List.of(), Buffer.buffer("late"))));

    Monitor monitor = Await.result(store.poll(id)).orElseThrow();
    assertThat(monitor.state()).as("the first settlement stands").isEqualTo(State.ENDED);
    assertThat(monitor.reason()).isEqualTo("client-heartbeat-lost");
    assertThat(monitor.answer()).isEmpty();
  }

  @Test
  public void anUnknownRequestHasNoMonitor() {
    assertThat(Await.result(store.poll("unknown-" + UUID.randomUUID()))).isEmpty();
    assertThat(Await.result(store.heard("unknown-" + UUID.randomUUID()))).isFalse();
  }

  /** Opens a monitor for a request of a node holding a live lease (see {@link #liveNode}). */
  private String open() {
    String id = "r-" + UUID.randomUUID();
    Await.result(store.open(id, liveNode(), HEARTBEAT, KEEP));
    return id;
  }

  /** A node the store counts as alive. */
  protected abstract String liveNode();
}
