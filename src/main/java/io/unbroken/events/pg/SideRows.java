package io.unbroken.events.pg;

import io.unbroken.events.SideRow;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Writes the side rows of a batch as upserts and removals, one statement per run of rows with the
 * same table, column set and kind: an {@code INSERT ... SELECT FROM unnest(...)} (or a
 * {@code DELETE} of the keys in those arrays) of the run's rows as arrays, so a run of hundreds of
 * rows costs the database one statement. Order matters: when two appends of a batch write the same
 * key, the later one must win, as it would had each append committed on its own; within a run only
 * the last row of each key is written, which leaves the same row behind (and one statement may not
 * change a row twice). Runs gather rows from across the batch where order allows ({@link #runs}).
 */
final class SideRows {

  private SideRows() {}

  /** A side row and the append it belongs to: its 1-based place among the batch's stamped appends, 0 for rows only. */
  record Owned(SideRow row, int append) {}

  /** A run's statement: its SQL, and its parameters numbered from the first it was given. */
  record RunStatement(String sql, List<Object> parameters) {}

  /** Writes the rows on {@code connection}, in a transaction the caller opened after the batch's append. */
  static Future<Void> write(SqlConnection connection, List<Owned> rows) {
    // Sent together: one connection runs its statements in the order sent, so they need not wait
    // for each other's answers, and the batch pays one round trip for all its runs.
    List<Future<Void>> written = new ArrayList<>();
    for (List<Owned> run : runs(rows)) {
      RunStatement statement = statement(run, 1, Optional.empty());
      written.add(connection.preparedQuery(statement.sql()).execute(Tuple.from(statement.parameters())).mapEmpty());
    }
    return Future.all(written).mapEmpty();
  }

  /**
   * True when no row of the batch shares its key with another: then the runs may go in one
   * statement with the append, whose parts PostgreSQL runs in no set order, each written only if
   * its append is accepted ({@link #statement} with an acceptance check).
   */
  static boolean keysDistinct(List<Owned> rows) {
    Set<List<Object>> keys = new HashSet<>();
    return rows.stream().allMatch(owned -> keys.add(keyOf(owned.row())));
  }

  /**
   * The batch's rows gathered into as few runs as order allows: a row joins the first run of its
   * shape that comes after every run holding its key, else a new run at the end. Rows of one key
   * keep their order; rows of different keys touch different rows, so their order does not matter.
   * Without this, a batch mixing the inserts of requests starting and the removals of requests
   * ending would cost a statement per alternation.
   */
  static List<List<Owned>> runs(List<Owned> rows) {
    List<List<Owned>> runs = new ArrayList<>();
    Map<List<Object>, Integer> lastRunOfKey = new HashMap<>();
    for (Owned owned : rows) {
      List<Object> key = keyOf(owned.row());
      int target = -1;
      for (int i = lastRunOfKey.getOrDefault(key, 0); i < runs.size() && target < 0; i++) {
        if (sameShape(runs.get(i).get(0).row(), owned.row())) {
          target = i;
        }
      }
      if (target < 0) {
        runs.add(new ArrayList<>());
        target = runs.size() - 1;
      }
      runs.get(target).add(owned);
      lastRunOfKey.put(key, target);
    }
    return runs.stream().map(SideRows::lastOfEachKey).toList();
  }

  private static List<Object> keyOf(SideRow row) {
    List<Object> key = new ArrayList<>();
    key.add(row.table());
    row.key().forEach(column -> key.add(row.columns().get(column)));
    return key;
  }

  private static List<Owned> lastOfEachKey(List<Owned> run) {
    Map<List<Object>, Owned> byKey = new LinkedHashMap<>();
    for (Owned owned : run) {
      byKey.put(keyOf(owned.row()), owned);
    }
    return List.copyOf(byKey.values());
  }

  /**
   * The statement writing a run, its parameters numbered from {@code first}. With
   * {@code acceptedCheck} (an SQL condition on {@code r.side_row_append}), a row is written only
   * when its append is accepted, or belongs to none.
   */
  static RunStatement statement(List<Owned> rows, int first, Optional<String> acceptedCheck) {
    SideRow shape = rows.get(0).row();
    List<String> columns = columns(shape);
    List<String> arrays = new ArrayList<>();
    List<String> selected = new ArrayList<>();
    List<Object> parameters = new ArrayList<>();
    for (String column : columns) {
      ColumnType type = ColumnType.of(shape.columns().get(column));
      arrays.add("$" + (first + arrays.size()) + "::" + type.arrayType);
      selected.add(type.select.formatted("r." + column));
      parameters.add(type.array(rows.stream().map(owned -> owned.row().columns().get(column)).toList()));
    }
    List<String> names = new ArrayList<>(columns);
    String where = "";
    if (acceptedCheck.isPresent()) {
      arrays.add("$" + (first + arrays.size()) + "::int4[]");
      names.add("side_row_append");
      parameters.add(rows.stream().map(Owned::append).toArray(Integer[]::new));
      where = " WHERE r.side_row_append = 0 OR " + acceptedCheck.get();
    }
    String from = " FROM unnest(" + String.join(", ", arrays) + ") AS r(" + String.join(", ", names) + ")" + where;
    String table = shape.table();
    if (shape.removes()) {
      // One key column: = ANY reads the primary key's index; a join with the arrays may scan the table.
      String matches = columns.size() == 1
          ? columns.get(0) + " = ANY(ARRAY(SELECT r." + columns.get(0) + from + "))"
          : "(" + String.join(", ", columns) + ") IN (SELECT " + String.join(", ", selected) + from + ")";
      return new RunStatement("DELETE FROM " + table + " WHERE " + matches, parameters);
    }
    String updates = columns.stream().filter(c -> !shape.key().contains(c))
        .map(c -> c + " = EXCLUDED." + c).collect(Collectors.joining(", "));
    return new RunStatement("INSERT INTO " + table + " (" + String.join(", ", columns) + ")"
        + " SELECT " + String.join(", ", selected) + from
        + " ON CONFLICT (" + String.join(", ", shape.key()) + ")"
        + (updates.isEmpty() ? " DO NOTHING" : " DO UPDATE SET " + updates), parameters);
  }

  /**
   * How a column's values travel: as an array of this PostgreSQL type, turned into the column's
   * value in the select list if need be.
   */
  private enum ColumnType {
    TEXT("text[]", "%s"), INT("int4[]", "%s"), BIGINT("int8[]", "%s"), BOOLEAN("bool[]", "%s"),
    TIMESTAMPTZ("timestamptz[]", "%s"), BYTEA("bytea[]", "%s"), JSONB("text[]", "%s::jsonb"),
    STORE_TIME("int8[]", "now() + %s * interval '1 millisecond'");

    private final String arrayType;
    private final String select;

    ColumnType(String arrayType, String select) {
      this.arrayType = arrayType;
      this.select = select;
    }

    static ColumnType of(Object value) {
      if (value instanceof String) {
        return TEXT;
      } else if (value instanceof Integer) {
        return INT;
      } else if (value instanceof Long) {
        return BIGINT;
      } else if (value instanceof Boolean) {
        return BOOLEAN;
      } else if (value instanceof OffsetDateTime) {
        return TIMESTAMPTZ;
      } else if (value instanceof Buffer) {
        return BYTEA;
      } else if (value instanceof JsonObject || value instanceof JsonArray) {
        return JSONB;
      } else if (value instanceof SideRow.StoreTime) {
        return STORE_TIME;
      }
      throw new IllegalArgumentException("a side row value of type " + value.getClass().getName() + " cannot be written");
    }

    Object array(List<Object> values) {
      return switch (this) {
        case TEXT -> values.toArray(String[]::new);
        case INT -> values.toArray(Integer[]::new);
        case BIGINT -> values.toArray(Long[]::new);
        case BOOLEAN -> values.toArray(Boolean[]::new);
        case TIMESTAMPTZ -> values.toArray(OffsetDateTime[]::new);
        case BYTEA -> values.toArray(Buffer[]::new);
        case JSONB -> values.stream().map(value -> value == null ? null : Json.encode(value)).toArray(String[]::new);
        case STORE_TIME -> values.stream().map(value -> ((SideRow.StoreTime) value).fromNow().toMillis()).toArray(Long[]::new);
      };
    }
  }

  /** Same table, same columns, same key, same kind, and values of the same types: rows one statement can write. */
  private static boolean sameShape(SideRow a, SideRow b) {
    if (a.removes() != b.removes() || !a.table().equals(b.table()) || !a.key().equals(b.key()) || !a.columns().keySet().equals(b.columns().keySet())) {
      return false;
    }
    return a.columns().keySet().stream()
        .allMatch(column -> ColumnType.of(a.columns().get(column)) == ColumnType.of(b.columns().get(column)));
  }

  private static List<String> columns(SideRow row) {
    return row.columns().keySet().stream().sorted().toList();
  }
}
