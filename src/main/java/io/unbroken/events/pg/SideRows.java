package io.unbroken.events.pg;

import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Writes the side rows of a batch as upserts and removals in append order, one statement per run
 * of rows with the same table, column set and kind: an {@code INSERT ... SELECT FROM unnest(...)}
 * (or {@code DELETE ... USING unnest(...)}) of the run's rows as arrays, so a run of hundreds of rows costs the database one statement. Order matters: when
 * two appends of a batch write the same key, the later one must win, as it would had each append
 * committed on its own; within a run only the last row of each key is written, which leaves the
 * same row behind (and one statement may not change a row twice).
 */
final class SideRows {

  private SideRows() {}

  static Future<Void> write(SqlConnection connection, List<StreamAppend> appends) {
    List<List<SideRow>> runs = new ArrayList<>();
    for (StreamAppend append : appends) {
      for (SideRow row : append.sideRows()) {
        List<SideRow> last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
        if (last == null || !sameShape(last.get(0), row)) {
          last = new ArrayList<>();
          runs.add(last);
        }
        last.add(row);
      }
    }
    Future<Void> written = Future.succeededFuture();
    for (List<SideRow> run : runs) {
      written = written.compose(v -> writeRun(connection, lastOfEachKey(run)));
    }
    return written;
  }

  private static List<SideRow> lastOfEachKey(List<SideRow> run) {
    Map<List<Object>, SideRow> byKey = new LinkedHashMap<>();
    for (SideRow row : run) {
      byKey.put(row.key().stream().map(row.columns()::get).toList(), row);
    }
    return List.copyOf(byKey.values());
  }

  private static Future<Void> writeRun(SqlConnection connection, List<SideRow> rows) {
    SideRow first = rows.get(0);
    List<String> columns = columns(first);
    List<String> arrays = new ArrayList<>();
    List<String> selected = new ArrayList<>();
    Tuple values = Tuple.tuple();
    for (int i = 0; i < columns.size(); i++) {
      String column = columns.get(i);
      ColumnType type = ColumnType.of(first.columns().get(column));
      arrays.add("$" + (i + 1) + "::" + type.arrayType);
      selected.add(type.select.formatted(column));
      values.addValue(type.array(rows.stream().map(row -> row.columns().get(column)).toList()));
    }
    String unnest = " unnest(" + String.join(", ", arrays) + ") AS r(" + String.join(", ", columns) + ")";
    if (first.removes()) {
      String matches = columns.stream().map(c -> "t." + c + " = r." + c).collect(Collectors.joining(" AND "));
      return connection.preparedQuery("DELETE FROM " + first.table() + " t USING" + unnest + " WHERE " + matches)
          .execute(values).mapEmpty();
    }
    String updates = columns.stream().filter(c -> !first.key().contains(c))
        .map(c -> c + " = EXCLUDED." + c).collect(Collectors.joining(", "));
    String sql = "INSERT INTO " + first.table() + " (" + String.join(", ", columns) + ")"
        + " SELECT " + String.join(", ", selected) + " FROM" + unnest
        + " ON CONFLICT (" + String.join(", ", first.key()) + ")"
        + (updates.isEmpty() ? " DO NOTHING" : " DO UPDATE SET " + updates);
    return connection.preparedQuery(sql).execute(values).mapEmpty();
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
