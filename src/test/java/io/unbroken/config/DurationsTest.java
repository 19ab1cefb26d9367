package io.unbroken.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import io.unbroken.testing.Property;
import io.unbroken.testing.Strings;
import java.math.BigInteger;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

  private static final Map<String, ChronoUnit> UNITS = Map.of("ms", ChronoUnit.MILLIS, "s", ChronoUnit.SECONDS,
      "m", ChronoUnit.MINUTES, "h", ChronoUnit.HOURS, "d", ChronoUnit.DAYS);
  private static final BigInteger LONGEST_MILLIS = BigInteger.valueOf(Long.MAX_VALUE);

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

  @Test
  void anyTextIsADurationOrRefusedWithOneOfTheDocumentedSentences() {
    Property.Inputs<String> near = Strings.edited(Property.oneOf(List.of("250ms", "5s", "24h", "7d", "15m",
        "106751991167d", " 5 s ")), "0123456789 \tmsdhMS.-+_x\u0660", 3);
    Property.forAll(Property.mixOf(near, Strings.any(16))).shrinkingWith(Strings::shorter).shownAs(Strings::escaped)
        .check("Durations.parse(any text)", 20_000, text -> {
          try {
            assertThat(Durations.parse(text).isNegative()).isFalse();
          } catch (IllegalArgumentException refused) {
            assertThat(refused.getMessage()).isIn("'" + text + "' is not a duration: write a whole number and a unit"
                + " ms, s, m, h or d (e.g. 250ms, 5s, 24h)", "'" + text + "' is too long: at most 106751991167d");
          }
        });
  }

  @Test
  void aWholeNumberAndAUnitIsThatDurationAndWrittenAgainParsesToItself() {
    Property.Inputs<String> written = Strings.numberAndUnit(List.copyOf(UNITS.keySet()), 1_000);
    Property.forAll(written).shownAs(Strings::escaped).check("Durations.parse(number and unit)", 20_000, text -> {
      String[] parts = Strings.splitNumberAndUnit(text);
      Duration expected = Duration.of(Long.parseLong(parts[0]), UNITS.get(parts[1]));
      if (BigInteger.valueOf(expected.getSeconds()).multiply(BigInteger.valueOf(1_000)).compareTo(LONGEST_MILLIS) > 0) {
        assertThatIllegalArgumentException().isThrownBy(() -> Durations.parse(text)).withMessageContaining("too long");
        return;
      }
      assertThat(Durations.parse(text)).isEqualTo(expected);
      assertThat(Durations.parse(inLargestWholeUnit(expected))).isEqualTo(expected);
    });
  }

  /** {@code duration} as a config file would best say it: 90s, not 90000ms; 2d, not 48h. */
  private static String inLargestWholeUnit(Duration duration) {
    long millis = duration.toMillis();
    for (var unit : List.of(Map.entry("d", 86_400_000L), Map.entry("h", 3_600_000L), Map.entry("m", 60_000L),
        Map.entry("s", 1_000L))) {
      if (millis % unit.getValue() == 0 && millis / unit.getValue() < 1_000_000_000_000L) {
        return millis / unit.getValue() + unit.getKey();
      }
    }
    return millis + "ms";
  }
}
