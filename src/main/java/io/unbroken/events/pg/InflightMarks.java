package io.unbroken.events.pg;

import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.vertx.core.json.JsonObject;
import java.util.Map;

/**
 * The in-flight rows of sync requests ({@link RequestLifecycle#INFLIGHT_TABLE}) as PostgreSQL keeps
 * them: as a mark on the request stream's own row, which its appends write anyway (migration V11).
 * {@code append_batch} sets the mark an append brings and clears it with any later append to the
 * stream, so a removal needs no writing of its own: the terminal append it rides clears the mark,
 * and a removal without an append finds no mark left (the stream's last append cleared it).
 */
final class InflightMarks {

  // Set by the database as it writes the mark: its transaction's now().
  private static final String STARTED = "started";
  private static final String REQUEST_ID = "request_id";

  private InflightMarks() {}

  static boolean isMark(SideRow row) {
    return row.table().equals(RequestLifecycle.INFLIGHT_TABLE);
  }

  /**
   * The mark {@code append} leaves on its stream as a JSON object, or null for none. Throws
   * IllegalStateException for a mark that is not the stream's own request's, or not stamped by
   * the database.
   */
  static String of(StreamAppend append) {
    String mark = null;
    for (SideRow row : append.sideRows()) {
      if (isMark(row) && !row.removes()) {
        mark = json(append, row);
      }
    }
    return mark;
  }

  private static String json(StreamAppend append, SideRow row) {
    if (append.events().isEmpty()
        || !append.streamId().equals(RequestLifecycle.streamOf(String.valueOf(row.columns().get(REQUEST_ID))))) {
      throw new IllegalStateException("an in-flight row is written with an append to its own request's stream");
    }
    if (!SideRow.StoreTime.NOW.equals(row.columns().get(STARTED))) {
      throw new IllegalStateException("an in-flight row starts at the database's time of writing it");
    }
    JsonObject mark = new JsonObject();
    for (Map.Entry<String, Object> column : row.columns().entrySet()) {
      if (!column.getKey().equals(STARTED)) {
        mark.put(column.getKey(), column.getValue());
      }
    }
    return mark.encode();
  }
}
