package io.unbroken.config;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Typed reads from one mapping of the configuration. Every failure names the value's origin and
 * its full key; {@link #rejectUnknownKeys()} catches misspelt keys instead of ignoring them.
 */
final class Section {

  private final String path;
  private final ConfigNode.Mapping mapping;
  private final Set<String> known = new HashSet<>();

  Section(String path, ConfigNode.Mapping mapping) {
    this.path = path;
    this.mapping = mapping;
  }

  String origin() {
    return mapping.origin();
  }

  String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  boolean has(String name) {
    known.add(name);
    return mapping.entries().containsKey(name);
  }

  Optional<Section> section(String name) {
    known.add(name);
    ConfigNode node = mapping.entries().get(name);
    if (node == null || isBlank(node)) {
      return Optional.empty();
    }
    if (!(node instanceof ConfigNode.Mapping child)) {
      throw new ConfigException(node.origin(), key(name), "expected a section of key: value lines, got " + describe(node));
    }
    return Optional.of(new Section(key(name), child));
  }

  List<Section> sections(String name) {
    List<Section> result = new ArrayList<>();
    for (ConfigNode item : list(name)) {
      String itemKey = key(name) + "[" + result.size() + "]";
      if (!(item instanceof ConfigNode.Mapping child)) {
        throw new ConfigException(item.origin(), itemKey, "expected a section of key: value lines, got " + describe(item));
      }
      result.add(new Section(itemKey, child));
    }
    return result;
  }

  List<String> strings(String name) {
    List<String> result = new ArrayList<>();
    for (ConfigNode item : list(name)) {
      if (!(item instanceof ConfigNode.Scalar scalar)) {
        throw new ConfigException(item.origin(), key(name) + "[" + result.size() + "]", "expected a single value, got " + describe(item));
      }
      result.add(scalar.text());
    }
    return result;
  }

  /** A section of {@code name: value} lines as a map in file order; empty when absent. */
  Map<String, String> stringMap(String name) {
    Map<String, String> result = new LinkedHashMap<>();
    Optional<Section> section = section(name);
    section.ifPresent(s -> s.mapping.entries().keySet().forEach(key -> result.put(key, s.string(key, ""))));
    return result;
  }

  Optional<String> optionalString(String name) {
    return scalar(name).map(ConfigNode.Scalar::text).filter(text -> !text.isBlank());
  }

  String string(String name, String fallback) {
    return optionalString(name).orElse(fallback);
  }

  String requiredString(String name, String meaning) {
    return optionalString(name).orElseThrow(() -> new ConfigException(origin(), key(name), "missing: " + meaning));
  }

  int integer(String name, int fallback, int min, int max) {
    return parse(name, fallback, text -> {
      int value;
      try {
        value = Integer.parseInt(text);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("'" + text + "' is not a whole number");
      }
      if (value < min || value > max) {
        throw new IllegalArgumentException(value + " is out of range " + min + ".." + max);
      }
      return value;
    });
  }

  double decimal(String name, double fallback) {
    return parse(name, fallback, text -> {
      try {
        return Double.parseDouble(text);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("'" + text + "' is not a number");
      }
    });
  }

  int port(String name, int fallback) {
    return integer(name, fallback, 0, 65535);
  }

  boolean bool(String name, boolean fallback) {
    return parse(name, fallback, text -> switch (text.toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on" -> true;
      case "false", "no", "off" -> false;
      default -> throw new IllegalArgumentException("'" + text + "' is not true or false");
    });
  }

  Duration duration(String name, Duration fallback) {
    return parse(name, fallback, Durations::parse);
  }

  long size(String name, long fallback) {
    return parse(name, fallback, ByteSizes::parse);
  }

  <E extends Enum<E>> E choice(String name, Class<E> type, E fallback) {
    return parse(name, fallback, text -> {
      for (E constant : type.getEnumConstants()) {
        if (constant.name().equalsIgnoreCase(text)) {
          return constant;
        }
      }
      List<String> names = new ArrayList<>();
      for (E constant : type.getEnumConstants()) {
        names.add(constant.name().toLowerCase(Locale.ROOT));
      }
      throw new IllegalArgumentException("'" + text + "' is not one of " + String.join(" | ", names));
    });
  }

  URI url(String name, String meaning, List<String> schemes) {
    String text = requiredString(name, meaning);
    return parse(name, null, value -> {
      URI uri;
      try {
        uri = new URI(value);
      } catch (Exception e) {
        throw new IllegalArgumentException("'" + value + "' is not a URL");
      }
      if (uri.getScheme() == null || !schemes.contains(uri.getScheme()) || uri.getHost() == null) {
        throw new IllegalArgumentException(
            "'" + value + "' must be a URL with scheme " + String.join(" or ", schemes) + " and a host");
      }
      return uri;
    });
  }

  /** A file the node reads, such as a PEM certificate: it must be readable now, so a typo fails the start. */
  Optional<Path> readableFile(String name) {
    return optionalString(name).map(text -> {
      Path path;
      try {
        path = Path.of(text);
      } catch (InvalidPathException e) {
        throw invalid(name, "'" + text + "' is not a file path");
      }
      if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
        throw invalid(name, "'" + text + "' is not a readable file (looked at " + path.toAbsolutePath() + ")");
      }
      return path;
    });
  }

  /** Where the value at a dotted path below this section came from (its file and line), else this section's origin. */
  String originOf(String dottedPath) {
    ConfigNode node = mapping;
    for (String part : dottedPath.split("\\.")) {
      if (!(node instanceof ConfigNode.Mapping parent) || !parent.entries().containsKey(part)) {
        return origin();
      }
      node = parent.entries().get(part);
    }
    return node.origin();
  }

  /** A failure about a value this section holds, pointing at its line. */
  ConfigException invalid(String name, String problem) {
    ConfigNode node = mapping.entries().get(name);
    return new ConfigException(node == null ? origin() : node.origin(), key(name), problem);
  }

  void rejectUnknownKeys() {
    for (var entry : mapping.entries().entrySet()) {
      if (!known.contains(entry.getKey())) {
        throw new ConfigException(entry.getValue().origin(), key(entry.getKey()),
            "unknown key (known here: " + String.join(", ", known.stream().sorted().toList()) + ")");
      }
    }
  }

  private <T> T parse(String name, T fallback, Function<String, T> parser) {
    Optional<ConfigNode.Scalar> scalar = scalar(name).filter(s -> !s.text().isBlank());
    if (scalar.isEmpty()) {
      return fallback;
    }
    try {
      return parser.apply(scalar.get().text().trim());
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new ConfigException(scalar.get().origin(), key(name), e.getMessage());
    }
  }

  private Optional<ConfigNode.Scalar> scalar(String name) {
    known.add(name);
    ConfigNode node = mapping.entries().get(name);
    if (node == null) {
      return Optional.empty();
    }
    if (!(node instanceof ConfigNode.Scalar scalar)) {
      throw new ConfigException(node.origin(), key(name), "expected a single value, got " + describe(node));
    }
    return Optional.of(scalar);
  }

  private List<ConfigNode> list(String name) {
    known.add(name);
    ConfigNode node = mapping.entries().get(name);
    if (node == null || isBlank(node)) {
      return List.of();
    }
    if (!(node instanceof ConfigNode.Sequence sequence)) {
      throw new ConfigException(node.origin(), key(name), "expected a list (- item lines or [a, b]), got " + describe(node));
    }
    return sequence.items();
  }

  private static boolean isBlank(ConfigNode node) {
    return node instanceof ConfigNode.Scalar scalar && scalar.text().isBlank();
  }

  private static String describe(ConfigNode node) {
    if (node instanceof ConfigNode.Scalar scalar) {
      return "the value '" + scalar.text() + "'";
    }
    return node instanceof ConfigNode.Sequence ? "a list" : "a section";
  }
}
