package io.unbroken.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A configuration value before it is bound, remembering where it came from so that an error
 * can point at the file and line, the environment variable or the flag that set it.
 */
sealed interface ConfigNode {

  String origin();

  record Scalar(String text, String origin) implements ConfigNode {}

  record Sequence(List<ConfigNode> items, String origin) implements ConfigNode {}

  record Mapping(Map<String, ConfigNode> entries, String origin) implements ConfigNode {

    static Mapping empty(String origin) {
      return new Mapping(new LinkedHashMap<>(), origin);
    }

    /** Sets a scalar at a dotted path, creating sections on the way (used by overrides). */
    void put(String dottedPath, Scalar value) {
      String[] parts = dottedPath.split("\\.");
      Mapping section = this;
      for (int i = 0; i < parts.length - 1; i++) {
        ConfigNode child = section.entries.get(parts[i]);
        if (child instanceof Mapping existing) {
          section = existing;
        } else {
          Mapping created = empty(value.origin());
          section.entries.put(parts[i], created);
          section = created;
        }
      }
      section.entries.put(parts[parts.length - 1], value);
    }
  }
}
