package io.unbroken.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses durations written as a whole number and a unit: {@code 250ms}, {@code 5s}, {@code 24h}. */
public final class Durations {

  /** The longest duration whose milliseconds fit a long, which is how timers and stores take it. */
  private static final Duration LONGEST = Duration.ofMillis(Long.MAX_VALUE);

  private static final Pattern FORM = Pattern.compile("(\\d{1,12})\\s*(ms|s|m|h|d)");

  private Durations() {}

  /** @throws IllegalArgumentException with a sentence saying what a valid duration looks like */
  public static Duration parse(String text) {
    Matcher m = FORM.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a duration: write a whole number and a unit ms, s, m, h or d (e.g. 250ms, 5s, 24h)");
    }
    long amount = Long.parseLong(m.group(1));
    Duration duration = switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(amount);
      case "s" -> Duration.ofSeconds(amount);
      case "m" -> Duration.ofMinutes(amount);
      case "h" -> Duration.ofHours(amount);
      default -> Duration.ofDays(amount);
    };
    if (duration.compareTo(LONGEST) > 0) {
      throw new IllegalArgumentException("'" + text + "' is too long: at most " + LONGEST.toDays() + "d");
    }
    return duration;
  }
}
