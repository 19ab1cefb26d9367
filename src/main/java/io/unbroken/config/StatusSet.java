package io.unbroken.config;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/** HTTP statuses given as exact codes ({@code 409}) or classes ({@code 5xx}). */
public record StatusSet(List<String> entries) {

  private static final Pattern ENTRY = Pattern.compile("[1-5](\\d\\d|xx)");

  /** Not final by default: the client may retry these and expect the request to run again. */
  public static final StatusSet DEFAULT_RELEASED = new StatusSet(List.of("408", "409", "425", "429", "5xx"));

  public StatusSet {
    entries = entries.stream().map(entry -> entry.toLowerCase(Locale.ROOT)).toList();
    for (String entry : entries) {
      if (!ENTRY.matcher(entry).matches()) {
        throw new IllegalArgumentException("'" + entry + "' is neither a status code (409) nor a class (5xx)");
      }
    }
  }

  public boolean contains(int status) {
    String code = Integer.toString(status);
    for (String entry : entries) {
      if (entry.equals(code) || (entry.endsWith("xx") && entry.charAt(0) == code.charAt(0))) {
        return true;
      }
    }
    return false;
  }
}
