package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.RouteConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestNodes;
import java.time.Duration;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeadlinesTest {

  private final RouteConfig quick = TestNodes.route("/quick", "http://127.0.0.1:1", Duration.ofMillis(1), 1024);
  private final RouteConfig slow = TestNodes.route("/slow", "http://127.0.0.1:1", Duration.ofHours(1), 1024);
  private final Vertx vertx = Vertx.vertx();
  private final Deadlines deadlines = new Deadlines(vertx, List.of(quick, slow));
  // Deadlines shorter than the route's expire on a timer, on an event loop.
  private final List<String> expired = new CopyOnWriteArrayList<>();

  @AfterEach
  void closeVertx() {
    Await.result(vertx.close());
  }

  private final class Named extends Deadlines.Armed {
    private final String name;

    Named(String name) {
      this.name = name;
    }

    @Override
    void expire() {
      expired.add(name);
    }
  }

  @Test
  void dueDeadlinesExpireInOrderAndDisarmedOnesNever() {
    Named first = new Named("first");
    Named second = new Named("second");
    Named third = new Named("third");
    deadlines.arm(quick, first);
    deadlines.arm(quick, second);
    deadlines.arm(quick, third);
    deadlines.arm(slow, new Named("not yet"));

    deadlines.disarm(second);

    Await.until("both due deadlines expire", Duration.ofSeconds(5), () -> {
      deadlines.expireDue();
      return expired.size() == 2;
    });
    assertThat(expired).containsExactly("first", "third");
  }

  @Test
  void disarmingTwiceOrAfterExpiryIsHarmless() {
    Named only = new Named("only");
    deadlines.arm(quick, only);
    Await.until("it expires", Duration.ofSeconds(5), () -> {
      deadlines.expireDue();
      return !expired.isEmpty();
    });

    deadlines.disarm(only);
    deadlines.disarm(only);
    Named next = new Named("next");
    deadlines.arm(quick, next);
    deadlines.disarm(next);
    deadlines.expireDue();

    assertThat(expired).containsExactly("only");
  }

  @Test
  void aClientsShorterDeadlineExpiresOnItsOwnAndALongerOneIsTheRoutes() {
    Named shorter = new Named("client's 50 ms");
    Named cancelled = new Named("disarmed");
    Named longer = new Named("client's 2 h, so the route's hour");
    deadlines.arm(slow, shorter, 50);
    deadlines.arm(slow, cancelled, 50);
    deadlines.arm(slow, longer, Duration.ofHours(2).toMillis());
    deadlines.disarm(cancelled);

    assertThat(shorter.timeoutMillis()).isEqualTo(50);
    assertThat(longer.timeoutMillis()).isEqualTo(Duration.ofHours(1).toMillis());
    Await.until("the shorter deadline expires without a sweep", Duration.ofSeconds(5), () -> !expired.isEmpty());
    deadlines.expireDue();
    assertThat(expired).containsExactly("client's 50 ms");
  }

  @Test
  void sweepsOftenEnoughForTheShortestTimeout() {
    assertThat(Deadlines.sweepIntervalMillis(List.of(quick, slow))).isEqualTo(1);
    assertThat(Deadlines.sweepIntervalMillis(List.of(slow))).isEqualTo(10);
  }
}
