package io.unbroken.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Text inputs for {@link Property}: arbitrary strings, strings over an alphabet, and near-valid
 * ones made by small edits to valid ones (which reach deeper into a parser than noise does).
 */
public final class Strings {

  private static final String CONTROLS = "\u0000\t\n\u000b\f\r\u001b\u007f";

  private Strings() {}

  /** Any text up to {@code maxLength} chars: mostly printable ASCII, some controls, Latin-1, other BMP, surrogates. */
  public static Property.Inputs<String> any(int maxLength) {
    return random -> {
      StringBuilder text = new StringBuilder();
      int length = random.nextInt(maxLength + 1);
      for (int i = 0; i < length; i++) {
        text.append(anyChar(random));
      }
      return text.toString();
    };
  }

  /** Text of {@code minLength} to {@code maxLength} chars, each drawn from {@code alphabet}. */
  public static Property.Inputs<String> over(String alphabet, int minLength, int maxLength) {
    return random -> {
      StringBuilder text = new StringBuilder();
      int length = minLength + random.nextInt(maxLength - minLength + 1);
      for (int i = 0; i < length; i++) {
        text.append(alphabet.charAt(random.nextInt(alphabet.length())));
      }
      return text.toString();
    };
  }

  /** The parts' texts one after another. */
  @SafeVarargs
  public static Property.Inputs<String> joined(Property.Inputs<String>... parts) {
    return random -> {
      StringBuilder text = new StringBuilder();
      for (Property.Inputs<String> part : parts) {
        text.append(part.next(random));
      }
      return text.toString();
    };
  }

  /**
   * A text of {@code base} after 1 to {@code maxEdits} edits at random places: a char inserted (from
   * {@code alphabet}), deleted or replaced, or a stretch repeated.
   */
  public static Property.Inputs<String> edited(Property.Inputs<String> base, String alphabet, int maxEdits) {
    return random -> {
      StringBuilder text = new StringBuilder(base.next(random));
      int edits = 1 + random.nextInt(maxEdits);
      for (int i = 0; i < edits; i++) {
        edit(text, alphabet, random);
      }
      return text.toString();
    };
  }

  /** Shorter texts than {@code text}: halves, quarters, ... down to single chars removed at each place. */
  /**
   * A whole number (below {@code smallBound} half the time, up to 10^12 the other half) and one of
   * {@code units}, as written in configuration: sometimes with spaces before, between and after.
   */
  public static Property.Inputs<String> numberAndUnit(List<String> units, long smallBound) {
    return random -> {
      long amount = random.nextBoolean() ? random.nextLong(smallBound) : random.nextLong(1_000_000_000_000L);
      String unit = units.get(random.nextInt(units.size()));
      String space = random.nextInt(4) == 0 ? " " : "";
      return space + amount + space + unit + space;
    };
  }

  /** What {@link #numberAndUnit} wrote, as its number and its unit. */
  public static String[] splitNumberAndUnit(String text) {
    return text.trim().split("(?<=\\d)\\s*(?=\\D)");
  }

  public static List<String> shorter(String text) {
    List<String> candidates = new ArrayList<>();
    for (int chunk = Math.max(1, text.length() / 2); chunk >= 1; chunk /= 2) {
      for (int start = 0; start + chunk <= text.length(); start += chunk) {
        candidates.add(text.substring(0, start) + text.substring(start + chunk));
      }
      if (chunk == 1) {
        break;
      }
    }
    return candidates;
  }

  /** {@code text} in Java string syntax, so controls and spaces in a report can be seen. */
  public static String escaped(String text) {
    StringBuilder out = new StringBuilder("\"");
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '\r' -> out.append("\\r");
        case '\n' -> out.append("\\n");
        case '\t' -> out.append("\\t");
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> out.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\u%04x", (int) c));
      }
    }
    return out.append('"').toString();
  }

  private static void edit(StringBuilder text, String alphabet, SplittableRandom random) {
    int at = random.nextInt(text.length() + 1);
    int kind = text.length() == 0 ? 0 : random.nextInt(4);
    switch (kind) {
      case 0 -> text.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
      case 1 -> text.deleteCharAt(Math.min(at, text.length() - 1));
      case 2 -> text.setCharAt(Math.min(at, text.length() - 1), alphabet.charAt(random.nextInt(alphabet.length())));
      default -> {
        int from = Math.min(at, text.length() - 1);
        int to = from + 1 + random.nextInt(Math.min(8, text.length() - from));
        text.insert(to, text.substring(from, to));
      }
    }
  }

  private static char anyChar(SplittableRandom random) {
    int kind = random.nextInt(20);
    if (kind < 12) {
      return (char) (0x20 + random.nextInt(0x5f));
    }
    if (kind < 15) {
      return CONTROLS.charAt(random.nextInt(CONTROLS.length()));
    }
    if (kind < 17) {
      return (char) (0x80 + random.nextInt(0x80));
    }
    if (kind < 19) {
      return (char) (0x100 + random.nextInt(0xd800 - 0x100));
    }
    return (char) (0xd800 + random.nextInt(0x800)); // a lone surrogate half
  }
}
