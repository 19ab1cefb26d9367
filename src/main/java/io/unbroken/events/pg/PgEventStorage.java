package io.unbroken.events.pg;

import io.unbroken.events.AppendOutcome;
import io.unbroken.events.AppendResult;
import io.unbroken.events.EventStorage;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.GlobalCheckpoint;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.Stamps;
import io.unbroken.events.StreamAppend;
import io.unbroken.events.WrongExpectedVersion;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The event store in PostgreSQL.
 *
 * <p>A batch is one call of the {@code append_batch} function (migrations V4, V7, V11), whatever its
 * size: it visits the appends in stream-id order (so concurrent batches on any node lock stream
 * rows alike, serialize per stream and never deadlock), checks and moves each stream's version,
 * and inserts the accepted events in batch order. A wrong expected version rejects that append
 * only; the others commit together. A batch is that one statement in its own transaction, one
 * round trip, side rows included: they ride in the same statement and are written only for
 * accepted appends. A batch where two side rows share a key (their order matters) writes them
 * after the append in an explicit transaction instead. A sync request's in-flight row is no side
 * row here but a mark on its stream's row, which the append writes anyway ({@link InflightMarks}).
 *
 * <p>{@link #readAll} orders by (transaction id, position) and reads only below
 * {@code pg_snapshot_xmin(pg_current_snapshot())}: transactions below that horizon are finished,
 * and later ones get higher ids, so nothing read can later be preceded by a late commit.
 */
public final class PgEventStorage implements EventStorage {

  private static final String COLUMNS =
      "global_position, tx_id::text AS tx, id, stream_id, stream_version, type, data, metadata, hlc, recorded_at";

  private static final String APPEND = "SELECT append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9)";
  private static final int PARTITIONS_AHEAD = 2;
  // Rows deleted per statement when streams are forgotten, so no one statement locks millions of rows.
  private static final int FORGET_SLICE = 10_000;

  private static final Instant LATEST = OffsetDateTime.MAX.toInstant();
  private static final Instant EARLIEST = OffsetDateTime.MIN.toInstant();

  private final Pool pool;
  private final Stamps stamps;
  private final EventPartitions partitions;

  public PgEventStorage(Pool pool, Stamps stamps) {
    this.pool = pool;
    this.stamps = stamps;
    this.partitions = new EventPartitions(pool);
  }

  @Override
  public Future<Void> maintain(Duration retention) {
    // Events are stamped with the database's now(): their partitions are chosen by that clock too.
    return pool.query("SELECT now()").execute()
        .map(rows -> rows.iterator().next().getOffsetDateTime(0).toInstant())
        .compose(now -> maintainAt(now, now.minus(retention)));
  }

  private Future<Void> maintainAt(Instant now, Instant cutoff) {
    return partitions.createAhead(now, PARTITIONS_AHEAD)
        .compose(created -> partitions.dropBefore(cutoff))
        .compose(dropped -> forgetStreamsBefore(EventPartitions.droppedBefore(cutoff)));
  }

  /** Deletes the versions of streams last appended to before {@code boundary}: their events are gone. */
  private Future<Void> forgetStreamsBefore(Instant boundary) {
    return pool.preparedQuery("DELETE FROM streams WHERE stream_id IN"
            + " (SELECT stream_id FROM streams WHERE touched_at < $1 LIMIT " + FORGET_SLICE + ")")
        .execute(Tuple.of(timestamp(boundary)))
        .compose(deleted -> deleted.rowCount() < FORGET_SLICE
            ? Future.succeededFuture()
            : forgetStreamsBefore(boundary));
  }

  @Override
  public Future<List<AppendOutcome>> appendBatch(List<StreamAppend> appends) {
    EventRows rows = new EventRows(stamps);
    List<StreamAppend> stamped = new ArrayList<>();
    // Outcomes by position in the batch; null until the database has decided.
    AppendOutcome[] outcomes = new AppendOutcome[appends.size()];
    for (int i = 0; i < appends.size(); i++) {
      try {
        if (appends.get(i).events().isEmpty()) {
          InflightMarks.of(appends.get(i));
          outcomes[i] = AppendOutcome.appended(new AppendResult(appends.get(i).streamId(), 0, 0, List.of()));
        } else {
          rows.stamp(appends.get(i));
          stamped.add(appends.get(i));
        }
      } catch (IllegalStateException refused) {
        outcomes[i] = AppendOutcome.failed(refused);
      }
    }
    List<SideRows.Owned> sideRows = sideRows(appends, stamped);
    Future<List<StreamAppend>> written;
    if (sideRows.isEmpty()) {
      // The batch is one statement, hence its own transaction: one round trip.
      written = appendEvents(pool, rows, APPEND, rows.toTuple(), stamped, outcomes);
    } else if (!stamped.isEmpty() && SideRows.keysDistinct(sideRows)) {
      written = appendWithSideRows(rows, stamped, outcomes, sideRows);
    } else {
      written = pool.withTransaction(connection -> appendEvents(connection, rows, APPEND, rows.toTuple(), stamped, outcomes)
          .compose(accepted -> SideRows.write(connection, ofAccepted(sideRows, stamped, accepted)).map(accepted)));
    }
    return written.map(accepted -> List.of(outcomes));
  }

  /**
   * The append and its side rows as one statement, so still one round trip: each run of rows is a
   * data-modifying part of it that writes a row only if its append was accepted (or it belongs to
   * none). PostgreSQL runs those parts in no set order, so this is only for rows of distinct keys.
   */
  private Future<List<StreamAppend>> appendWithSideRows(EventRows rows, List<StreamAppend> stamped,
      AppendOutcome[] outcomes, List<SideRows.Owned> sideRows) {
    StringBuilder sql = new StringBuilder("WITH appended AS MATERIALIZED (" + APPEND + " AS outcomes)");
    Tuple parameters = rows.toTuple();
    List<List<SideRows.Owned>> runs = SideRows.runs(sideRows);
    for (int i = 0; i < runs.size(); i++) {
      SideRows.RunStatement run = SideRows.statement(runs.get(i), parameters.size() + 1,
          Optional.of("(SELECT outcomes FROM appended)[r.side_row_append] >= 0"));
      sql.append(", side_rows_").append(i).append(" AS (").append(run.sql()).append(")");
      run.parameters().forEach(parameters::addValue);
    }
    sql.append(" SELECT outcomes FROM appended");
    return appendEvents(pool, rows, sql.toString(), parameters, stamped, outcomes);
  }

  /**
   * Each side row with its append's place among the stamped ones (1-based; 0 for rows only); none of
   * an unstamped append, and no in-flight row: those are marks on the streams' rows.
   */
  private static List<SideRows.Owned> sideRows(List<StreamAppend> appends, List<StreamAppend> stamped) {
    Map<StreamAppend, Integer> places = new IdentityHashMap<>();
    for (int i = 0; i < stamped.size(); i++) {
      places.put(stamped.get(i), i + 1);
    }
    List<SideRows.Owned> owned = new ArrayList<>();
    for (StreamAppend append : appends) {
      Integer place = append.events().isEmpty() ? Integer.valueOf(0) : places.get(append);
      if (place != null) {
        append.sideRows().stream().filter(row -> !InflightMarks.isMark(row))
            .forEach(row -> owned.add(new SideRows.Owned(row, place)));
      }
    }
    return owned;
  }

  /** The rows that commit: those of accepted appends and of rows only. */
  private static List<SideRows.Owned> ofAccepted(List<SideRows.Owned> rows, List<StreamAppend> stamped,
      List<StreamAppend> accepted) {
    Set<StreamAppend> written = Collections.newSetFromMap(new IdentityHashMap<>());
    written.addAll(accepted);
    return rows.stream().filter(owned -> owned.append() == 0 || written.contains(stamped.get(owned.append() - 1)))
        .toList();
  }

  /** Runs the batch's append statement, fills in each stamped append's outcome and returns those written. */
  private static Future<List<StreamAppend>> appendEvents(SqlClient client, EventRows rows, String sql,
      Tuple parameters, List<StreamAppend> stamped, AppendOutcome[] outcomes) {
    if (stamped.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    return client.preparedQuery(sql)
        .execute(parameters)
        .map(result -> {
          Integer[] before = result.iterator().next().getArrayOfIntegers(0);
          List<StreamAppend> accepted = new ArrayList<>();
          int slot = 0;
          for (int i = 0; i < stamped.size(); i++) {
            while (outcomes[slot] != null) {
              slot++;
            }
            StreamAppend append = stamped.get(i);
            outcomes[slot] = rows.outcome(i, append, before[i]);
            if (before[i] >= 0) {
              accepted.add(append);
            }
          }
          return accepted;
        });
  }

  @Override
  public Future<List<RecordedEvent>> readStream(String streamId, int fromVersion, Instant upTo) {
    return pool.preparedQuery("SELECT " + COLUMNS + " FROM events WHERE stream_id = $1 AND stream_version >= $2"
            + " AND recorded_at <= $3 ORDER BY stream_version")
        .execute(Tuple.of(streamId, fromVersion, timestamp(upTo)))
        .map(PgEventStorage::events);
  }

  @Override
  public Future<List<RecordedEvent>> readAll(GlobalCheckpoint after, int limit) {
    return pool.preparedQuery("SELECT " + COLUMNS + " FROM events"
            + " WHERE tx_id >= $1::text::xid8 AND (tx_id > $1::text::xid8 OR global_position > $2)"
            + " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
            + " ORDER BY tx_id, global_position LIMIT $3")
        .execute(Tuple.of(Long.toString(after.transaction()), after.position(), limit))
        .map(PgEventStorage::events);
  }

  /**
   * {@code upTo} as a timestamptz parameter. Instants beyond what OffsetDateTime holds (Instant.MAX,
   * Instant.MIN) would throw; the extremes are sent instead, which the client encodes as infinity.
   */
  private static OffsetDateTime timestamp(Instant upTo) {
    if (upTo.isAfter(LATEST)) {
      return OffsetDateTime.MAX;
    }
    return upTo.isBefore(EARLIEST) ? OffsetDateTime.MIN : OffsetDateTime.ofInstant(upTo, ZoneOffset.UTC);
  }

  private static List<RecordedEvent> events(RowSet<Row> rows) {
    List<RecordedEvent> events = new ArrayList<>(rows.size());
    for (Row row : rows) {
      events.add(new RecordedEvent(
          new GlobalCheckpoint(Long.parseLong(row.getString("tx")), row.getLong("global_position")),
          row.getLong("id"), row.getString("stream_id"), row.getInteger("stream_version"), row.getString("type"),
          (JsonObject) row.getValue("data"), (JsonObject) row.getValue("metadata"), row.getLong("hlc"),
          row.getOffsetDateTime("recorded_at").toInstant()));
    }
    return events;
  }

  /** The appends of a batch and their events' columns, as arrays for {@code append_batch}. */
  private static final class EventRows {
    private final List<String> streams = new ArrayList<>();
    private final List<Integer> expected = new ArrayList<>();
    private final List<Integer> sizes = new ArrayList<>();
    private final List<List<Long>> idsByAppend = new ArrayList<>();
    private final List<Long> ids = new ArrayList<>();
    private final List<String> types = new ArrayList<>();
    private final List<String> data = new ArrayList<>();
    private final List<String> metadata = new ArrayList<>();
    private final List<Long> hlcs = new ArrayList<>();
    private final List<String> marks = new ArrayList<>();
    private final Stamps stamps;

    EventRows(Stamps stamps) {
      this.stamps = stamps;
    }

    /** Adds an append with ids and clock values for its events; on failure nothing is added. */
    void stamp(StreamAppend append) {
      String mark = InflightMarks.of(append);
      List<Long> appendIds = new ArrayList<>();
      for (NewEvent event : append.events()) {
        appendIds.add(stamps.nextId());
      }
      streams.add(append.streamId());
      expected.add(append.expected() instanceof ExpectedVersion.Exact exact ? exact.version() : -1);
      sizes.add(append.events().size());
      marks.add(mark);
      idsByAppend.add(appendIds);
      ids.addAll(appendIds);
      for (NewEvent event : append.events()) {
        types.add(event.type());
        data.add(event.data().encode());
        metadata.add(event.metadata().encode());
        hlcs.add(stamps.hlc());
      }
    }

    /** What became of the {@code index}th stamped append, given what {@code append_batch} returned for it. */
    AppendOutcome outcome(int index, StreamAppend append, int before) {
      if (before < 0) {
        return AppendOutcome.failed(new WrongExpectedVersion(append.streamId(), append.expected(), -before - 1));
      }
      return AppendOutcome.appended(
          new AppendResult(append.streamId(), before + 1, before + sizes.get(index), idsByAppend.get(index)));
    }

    Tuple toTuple() {
      // addValue one by one: Tuple.of(a, array) would spread the array as varargs
      return Tuple.tuple().addValue(streams.toArray(String[]::new)).addValue(expected.toArray(Integer[]::new))
          .addValue(sizes.toArray(Integer[]::new)).addValue(ids.toArray(Long[]::new))
          .addValue(types.toArray(String[]::new)).addValue(data.toArray(String[]::new))
          .addValue(metadata.toArray(String[]::new)).addValue(hlcs.toArray(Long[]::new))
          .addValue(marks.toArray(String[]::new));
    }
  }
}
