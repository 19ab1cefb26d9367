package io.unbroken.events;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A row written with an append, in its transaction: inserted into {@code table}, or updated when a
 * row with the same {@code key} columns exists. Values are strings, numbers, booleans, JSON,
 * byte arrays or {@link java.time.OffsetDateTime}.
 */
public record SideRow(String table, Map<String, Object> columns, List<String> key) {

  // Names go into SQL text as they are, so they must be plain identifiers.
  private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]*");

  public SideRow {
    if (!IDENTIFIER.matcher(table).matches()
        || !columns.keySet().stream().allMatch(column -> IDENTIFIER.matcher(column).matches())) {
      throw new IllegalArgumentException("table and column names must be lower-case identifiers");
    }
    if (!columns.keySet().containsAll(key) || key.isEmpty()) {
      throw new IllegalArgumentException("the key columns must be among the columns");
    }
    columns = Map.copyOf(columns);
    key = List.copyOf(key);
  }
}
