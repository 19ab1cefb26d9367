package io.unbroken.ids;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.testing.ManualClock;
import org.junit.jupiter.api.Test;

class HybridLogicalClockTest {

  private static final long MAX_OFFSET_MILLIS = 500;

  private final ManualClock clock = ManualClock.at("2025-06-01T12:00:00Z");
  private final HybridLogicalClock hlc = new HybridLogicalClock(clock, MAX_OFFSET_MILLIS);

  @Test
  void aValueIsTheWallClockMillisecondsWithALogicalCounterBelow() {
    long value = hlc.now();

    assertThat(HybridLogicalClock.physicalMillis(value)).isEqualTo(clock.millis());
    assertThat(HybridLogicalClock.logical(value)).isZero();
    assertThat(value).isEqualTo(clock.millis() << 16);
  }

  @Test
  void valuesGrowUnderAFrozenClock() {
    long previous = hlc.now();
    for (int i = 1; i <= 1_000; i++) {
      long value = hlc.now();
      assertThat(value).isGreaterThan(previous);
      assertThat(HybridLogicalClock.physicalMillis(value)).isEqualTo(clock.millis());
      assertThat(HybridLogicalClock.logical(value)).isEqualTo(i);
      previous = value;
    }
  }

  @Test
  void valuesGrowWhenTheClockStepsBack() {
    long before = hlc.now();
    clock.advance(-10_000);

    long after = hlc.now();
    long later = hlc.now();

    assertThat(after).isGreaterThan(before);
    assertThat(later).isGreaterThan(after);
    assertThat(HybridLogicalClock.physicalMillis(after)).isEqualTo(HybridLogicalClock.physicalMillis(before));
  }

  @Test
  void physicalTimeTakesOverAgainOnceTheClockPassesTheLastValue() {
    hlc.now();
    hlc.now();
    clock.advance(1);

    long value = hlc.now();

    assertThat(HybridLogicalClock.physicalMillis(value)).isEqualTo(clock.millis());
    assertThat(HybridLogicalClock.logical(value)).isZero();
  }

  @Test
  void aPeerAheadWithinTheMaxOffsetIsFollowed() {
    long local = hlc.now();
    long peer = (clock.millis() + 300) << 16 | 5;

    long received = hlc.receive(peer);
    long next = hlc.now();

    assertThat(received).isGreaterThan(peer).isGreaterThan(local);
    assertThat(next).isGreaterThan(received);
    assertThat(HybridLogicalClock.physicalMillis(next)).isEqualTo(clock.millis() + 300);
    assertThat(hlc.rejectedPeers()).isZero();
  }

  @Test
  void aPeerExactlyAtTheMaxOffsetIsFollowed() {
    long peer = (clock.millis() + MAX_OFFSET_MILLIS) << 16;

    assertThat(hlc.receive(peer)).isGreaterThan(peer);
    assertThat(hlc.rejectedPeers()).isZero();
  }

  @Test
  void aPeerBehindStillMovesTheClockForward() {
    long local = hlc.now();
    long peer = (clock.millis() - 2_000) << 16 | 7;

    long received = hlc.receive(peer);

    assertThat(received).isGreaterThan(local);
    assertThat(HybridLogicalClock.physicalMillis(received)).isEqualTo(clock.millis());
    assertThat(hlc.rejectedPeers()).isZero();
  }

  @Test
  void aPeerFurtherAheadThanTheMaxOffsetIsCountedAndNotFollowed() {
    long local = hlc.now();
    long peer = (clock.millis() + MAX_OFFSET_MILLIS + 1) << 16;

    long received = hlc.receive(peer);
    long next = hlc.now();

    assertThat(received).isGreaterThan(local).isLessThan(peer);
    assertThat(HybridLogicalClock.physicalMillis(received)).isEqualTo(clock.millis());
    assertThat(next).isGreaterThan(received).isLessThan(peer);
    assertThat(hlc.rejectedPeers()).isEqualTo(1);

    hlc.receive((clock.millis() + 3_600_000) << 16);
    assertThat(hlc.rejectedPeers()).isEqualTo(2);
  }
}
