package io.unbroken.config;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses sizes such as {@code 512B}, {@code 64KiB}, {@code 1MiB}, {@code 2GB}. */
public final class ByteSizes {

  private static final Pattern FORM = Pattern.compile("(\\d{1,12})\\s*(B|KiB|MiB|GiB|KB|MB|GB)");
  private static final Map<String, Long> UNITS = Map.of(
      "B", 1L,
      "KiB", 1024L, "MiB", 1024L * 1024, "GiB", 1024L * 1024 * 1024,
      "KB", 1000L, "MB", 1000L * 1000, "GB", 1000L * 1000 * 1000);

  private ByteSizes() {}

  /** @throws IllegalArgumentException with a sentence saying what a valid size looks like */
  public static long parse(String text) {
    Matcher m = FORM.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a size: write a whole number and a unit B, KiB, MiB, GiB, KB, MB or GB (e.g. 1MiB)");
    }
    try {
      return Math.multiplyExact(Long.parseLong(m.group(1)), UNITS.get(m.group(2)));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("'" + text + "' is too large: at most " + Long.MAX_VALUE + "B");
    }
  }
}
