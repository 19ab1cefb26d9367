package io.unbroken.events;

import java.util.List;
import java.util.Map;

/**
 * A row written with an append, in its transaction: inserted into {@code table}, or updated when a
 * row with the same {@code key} columns exists. Values are strings, numbers, booleans, JSON,
 * byte arrays or {@link java.time.OffsetDateTime}.
 */
public record SideRow(String table, Map<String, Object> columns, List<String> key) {

  public SideRow {
    if (!table.matches("[a-z_][a-z0-9_]*") || !columns.keySet().stream().allMatch(c -> c.matches("[a-z_][a-z0-9_]*"))) {
      throw new IllegalArgumentException("table and column names must be lower-case identifiers");
    }
    if (!columns.keySet().containsAll(key) || key.isEmpty()) {
      throw new IllegalArgumentException("the key columns must be among the columns");
    }
    columns = Map.copyOf(columns);
    key = List.copyOf(key);
  }
}
