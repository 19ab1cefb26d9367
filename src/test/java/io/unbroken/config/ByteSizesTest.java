package io.unbroken.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ByteSizesTest {

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
}
