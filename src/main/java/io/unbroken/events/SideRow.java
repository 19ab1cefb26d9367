package io.unbroken.events;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A row written with an append, in its transaction: inserted into {@code table}, or updated when a
 * row with the same {@code key} columns exists; or, as a {@link #removal}, deleted. Values are
 * strings, numbers, booleans, JSON, byte arrays, {@link java.time.OffsetDateTime} or {@link StoreTime}.
 */
public record SideRow(String table, Map<String, Object> columns, List<String> key, boolean removes) {

  /**
   * A time the database sets as it writes the row: its transaction time plus {@code fromNow}. A
   * time that other nodes later compare is written this way, so only the database's clock judges it.
   */
  public record StoreTime(Duration fromNow) {
    public static final StoreTime NOW = new StoreTime(Duration.ZERO);
  }

  // Names go into SQL text as they are, so they must be plain identifiers.
  private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]*");

  public SideRow(String table, Map<String, Object> columns, List<String> key) {
    this(table, columns, key, false);
  }

  /** Deletes the row of {@code table} whose key columns hold {@code key}'s values, if there is one. */
  public static SideRow removal(String table, Map<String, Object> key) {
    return new SideRow(table, key, List.copyOf(key.keySet()), true);
  }

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
