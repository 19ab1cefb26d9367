package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.RouteConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestNodes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DeadlinesTest {

  private final RouteConfig quick = TestNodes.route("/quick", "http://127.0.0.1:1", Duration.ofMillis(1), 1024);
  private final RouteConfig slow = TestNodes.route("/slow", "http://127.0.0.1:1", Duration.ofHours(1), 1024);
  private final Deadlines deadlines = new Deadlines(List.of(quick, slow));
  private final List<String> expired = new ArrayList<>();

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
  void sweepsOftenEnoughForTheShortestTimeout() {
    assertThat(Deadlines.sweepIntervalMillis(List.of(quick, slow))).isEqualTo(1);
    assertThat(Deadlines.sweepIntervalMillis(List.of(slow))).isEqualTo(10);
  }
}
