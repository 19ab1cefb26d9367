package io.unbroken.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import io.unbroken.testing.Property;
import io.unbroken.testing.Strings;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ByteSizesTest {

  private static final Map<String, Long> UNITS = Map.of("B", 1L, "KiB", 1L << 10, "MiB", 1L << 20, "GiB", 1L << 30,
      "KB", 1_000L, "MB", 1_000_000L, "GB", 1_000_000_000L);

  @ParameterizedTest
  @CsvSource({
      "0B,       0",
      "512B,     512",
      "64KiB,    65536",
      "1MiB,     1048576",
      "10MiB,    10485760",
      "2GiB,     2147483648",
      "64KB,     64000",
      "1MB,      1000000",
      "2GB,      2000000000",
      "' 1 MiB ', 1048576",
      "8589934591GiB, 9223372035781033984",
  })
  void parsesAWholeNumberAndAUnit(String text, long expected) {
    assertThat(ByteSizes.parse(text)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "1MB2", "1", "MiB", "", "1.5MiB", "-1B", "1mib", "1kb", "1 megabyte", "1TiB", "1234567890123B"})
  void rejectsAnythingElseSayingWhatASizeLooksLike(String text) {
    assertThatIllegalArgumentException().isThrownBy(() -> ByteSizes.parse(text))
        .withMessage("'" + text + "' is not a size: write a whole number and a unit B, KiB, MiB, GiB, KB, MB or GB"
            + " (e.g. 1MiB)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"8589934592GiB", "99999999999GiB"})
  void rejectsSizesThatDoNotFitALong(String text) {
    assertThatIllegalArgumentException().isThrownBy(() -> ByteSizes.parse(text))
        .withMessage("'" + text + "' is too large: at most 9223372036854775807B");
  }

  @Test
  void anyTextIsASizeOrRefusedWithOneOfTheDocumentedSentences() {
    Property.Inputs<String> near = Strings.edited(Property.oneOf(List.of("512B", "64KiB", "1MiB", "2GB", "10 MB",
        "8589934591GiB")), "0123456789 \tBKMGikb.-+_x\u0660", 3);
    Property.forAll(Property.mixOf(near, Strings.any(16))).shrinkingWith(Strings::shorter).shownAs(Strings::escaped)
        .check("ByteSizes.parse(any text)", 20_000, text -> {
          try {
            assertThat(ByteSizes.parse(text)).isNotNegative();
          } catch (IllegalArgumentException refused) {
            assertThat(refused.getMessage()).isIn("'" + text + "' is not a size: write a whole number and a unit B,"
                + " KiB, MiB, GiB, KB, MB or GB (e.g. 1MiB)", "'" + text + "' is too large: at most "
                + Long.MAX_VALUE + "B");
          }
        });
  }

  @Test
  void aWholeNumberAndAUnitIsThatManyBytesOrTooLarge() {
    Property.Inputs<String> written = Strings.numberAndUnit(List.copyOf(UNITS.keySet()), 100_000);
    Property.forAll(written).shownAs(Strings::escaped).check("ByteSizes.parse(number and unit)", 20_000, text -> {
      String[] parts = Strings.splitNumberAndUnit(text);
      BigInteger bytes = new BigInteger(parts[0]).multiply(BigInteger.valueOf(UNITS.get(parts[1])));
      if (bytes.bitLength() > 63) {
        assertThatIllegalArgumentException().isThrownBy(() -> ByteSizes.parse(text)).withMessageContaining("too large");
      } else {
        assertThat(ByteSizes.parse(text)).isEqualTo(bytes.longValueExact());
      }
    });
  }
}
