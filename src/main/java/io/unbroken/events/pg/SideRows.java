package io.unbroken.events.pg;

import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.vertx.core.Future;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Writes the side rows of a batch as upserts in append order, one batched statement per run of
 * rows with the same table and column set. Order matters: when two appends of a batch write the
 * same key, the later one must win, as it would had each append committed on its own.
 */
final class SideRows {

  private SideRows() {}

  static Future<Void> write(SqlConnection connection, List<StreamAppend> appends) {
    List<Map.Entry<String, List<Tuple>>> runs = new ArrayList<>();
    for (StreamAppend append : appends) {
      for (SideRow row : append.sideRows()) {
        String sql = upsert(row);
        if (runs.isEmpty() || !runs.get(runs.size() - 1).getKey().equals(sql)) {
          runs.add(Map.entry(sql, new ArrayList<>()));
        }
        runs.get(runs.size() - 1).getValue().add(values(row));
      }
    }
    Future<Void> written = Future.succeededFuture();
    for (var run : runs) {
      written = written.compose(v -> connection.preparedQuery(run.getKey()).executeBatch(run.getValue()).mapEmpty());
    }
    return written;
  }

  private static String upsert(SideRow row) {
    List<String> columns = columns(row);
    String placeholders = IntStream.rangeClosed(1, columns.size())
        .mapToObj(i -> "$" + i).collect(Collectors.joining(", "));
    String updates = columns.stream().filter(c -> !row.key().contains(c))
        .map(c -> c + " = EXCLUDED." + c).collect(Collectors.joining(", "));
    return "INSERT INTO " + row.table() + " (" + String.join(", ", columns) + ") VALUES (" + placeholders + ")"
        + " ON CONFLICT (" + String.join(", ", row.key()) + ")"
        + (updates.isEmpty() ? " DO NOTHING" : " DO UPDATE SET " + updates);
  }

  private static Tuple values(SideRow row) {
    Tuple tuple = Tuple.tuple();
    columns(row).forEach(column -> tuple.addValue(row.columns().get(column)));
    return tuple;
  }

  private static List<String> columns(SideRow row) {
    return row.columns().keySet().stream().sorted().toList();
  }
}
