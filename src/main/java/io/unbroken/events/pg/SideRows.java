package io.unbroken.events.pg;

import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.vertx.core.Future;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Writes the side rows of a batch as upserts, one batched statement per table and column set. */
final class SideRows {

  private SideRows() {}

  static Future<Void> write(SqlConnection connection, List<StreamAppend> appends) {
    Map<String, List<SideRow>> byShape = new LinkedHashMap<>();
    for (StreamAppend append : appends) {
      for (SideRow row : append.sideRows()) {
        byShape.computeIfAbsent(upsert(row), sql -> new ArrayList<>()).add(row);
      }
    }
    Future<Void> written = Future.succeededFuture();
    for (var shape : byShape.entrySet()) {
      List<Tuple> tuples = shape.getValue().stream().map(SideRows::values).toList();
      written = written.compose(v -> connection.preparedQuery(shape.getKey()).executeBatch(tuples).mapEmpty());
    }
    return written;
  }

  private static String upsert(SideRow row) {
    List<String> columns = columns(row);
    String placeholders = java.util.stream.IntStream.rangeClosed(1, columns.size())
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
