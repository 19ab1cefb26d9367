package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class KeyFilterTest {

  @Test
  void aMillionKeyFilterTakesAtMostTwoMegabytes() {
    assertThat(new KeyFilter(1_000_000, 0.01).sizeInBytes()).isLessThanOrEqualTo(2_000_000);
  }

  @Test
  void itNeverForgetsAnyOfTheLastExpectedKeysWhileItRotates() {
    KeyFilter filter = new KeyFilter(10_000, 0.01);
    for (int i = 0; i < 35_000; i++) {
      filter.add("key-" + i);
    }
    for (int i = 25_000; i < 35_000; i++) {
      assertThat(filter.mightContain("key-" + i)).as("key-%d, among the last 10,000 added", i).isTrue();
    }
  }

  @Test
  void oldGenerationsAreDroppedSoTheFilterDoesNotFillUp() {
    KeyFilter filter = new KeyFilter(10_000, 0.01);
    for (int i = 0; i < 50_000; i++) {
      filter.add("key-" + i);
    }
    long remembered = 0;
    for (int i = 0; i < 10_000; i++) {
      remembered += filter.mightContain("key-" + i) ? 1 : 0;
    }
    assertThat(remembered).as("keys of dropped generations answering maybe (false positives only)").isLessThan(500);
    long falsePositives = 0;
    for (int i = 0; i < 100_000; i++) {
      falsePositives += filter.mightContain("never-" + i) ? 1 : 0;
    }
    assertThat(falsePositives / 100_000.0).as("false-positive rate, at most three generations' worth").isLessThan(0.03);
  }

  @Test
  void nonsenseSizingIsRefused() {
    assertThatThrownBy(() -> new KeyFilter(1, 0.01)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new KeyFilter(1000, 1.0)).isInstanceOf(IllegalArgumentException.class);
  }
}
