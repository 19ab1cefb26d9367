package io.unbroken.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

  @ParameterizedTest
  @CsvSource({
      "0ms,          PT0S",
      "250ms,        PT0.25S",
      "5s,           PT5S",
      "90s,          PT1M30S",
      "15m,          PT15M",
      "24h,          PT24H",
      "7d,           PT168H",
      "' 5 s ',      PT5S",
      "106751991167d, PT2562047788008H",
  })
  void parsesAWholeNumberAndAUnit(String text, Duration expected) {
    assertThat(Durations.parse(text)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(strings = {"5x", "5", "s", "", "1.5s", "-1s", "5S", "5 sec", "1h30m", "PT5S", "1234567890123ms"})
  void rejectsAnythingElseSayingWhatADurationLooksLike(String text) {
    assertThatIllegalArgumentException().isThrownBy(() -> Durations.parse(text))
        .withMessage("'" + text + "' is not a duration: write a whole number and a unit ms, s, m, h or d"
            + " (e.g. 250ms, 5s, 24h)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"106751991168d", "999999999999d"})
  void rejectsDurationsWhoseMillisecondsDoNotFitALong(String text) {
    assertThatIllegalArgumentException().isThrownBy(() -> Durations.parse(text))
        .withMessage("'" + text + "' is too long: at most 106751991167d");
  }
}
