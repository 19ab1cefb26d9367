package io.unbroken.events.pg;

import io.unbroken.events.AppendOutcome;
import io.unbroken.events.AppendResult;
import io.unbroken.events.EventStorage;
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
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The event store in PostgreSQL.
 *
 * <p>A batch is one transaction with a fixed number of statements whatever its size: make sure
 * each stream has a row in {@code streams}, lock those rows in stream-id order (so concurrent
 * batches on any node serialize per stream and never deadlock), check every append's expected
 * version against the locked versions in Java, then move the versions and insert all accepted
 * events with one {@code unnest} statement each, and the side rows. A wrong expected version
 * rejects that append only; the others commit together.
 *
 * <p>{@link #readAll} orders by (transaction id, position) and reads only below
 * {@code pg_snapshot_xmin(pg_current_snapshot())}: transactions below that horizon are finished,
 * and later ones get higher ids, so nothing read can later be preceded by a late commit.
 */
public final class PgEventStorage implements EventStorage {

  private static final String COLUMNS =
      "global_position, tx_id::text AS tx, id, stream_id, stream_version, type, data, metadata, hlc, recorded_at";

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
  public Future<Void> maintain(Instant now, Duration retention) {
    Instant cutoff = now.minus(retention);
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
    return pool.withTransaction(connection -> lockStreams(connection, appends)
        .compose(versions -> write(connection, appends, versions)));
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

  private static Future<Map<String, Integer>> lockStreams(SqlConnection connection, List<StreamAppend> appends) {
    String[] streamIds = new TreeSet<>(appends.stream().map(StreamAppend::streamId).toList()).toArray(String[]::new);
    return connection.preparedQuery("INSERT INTO streams (stream_id, version)"
            + " SELECT s, 0 FROM unnest($1::text[]) AS s ORDER BY s ON CONFLICT (stream_id) DO NOTHING")
        .execute(Tuple.tuple().addValue(streamIds))
        .compose(inserted -> connection.preparedQuery("SELECT stream_id, version FROM streams"
                + " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id FOR UPDATE")
            .execute(Tuple.tuple().addValue(streamIds)))
        .map(rows -> {
          Map<String, Integer> versions = new HashMap<>();
          rows.forEach(row -> versions.put(row.getString(0), row.getInteger(1)));
          return versions;
        });
  }

  private Future<List<AppendOutcome>> write(SqlConnection connection, List<StreamAppend> appends,
      Map<String, Integer> versions) {
    EventRows rows = new EventRows();
    List<AppendOutcome> outcomes = new ArrayList<>();
    List<StreamAppend> accepted = new ArrayList<>();
    for (StreamAppend append : appends) {
      int current = versions.get(append.streamId());
      if (!append.expected().allows(current)) {
        outcomes.add(AppendOutcome.failed(new WrongExpectedVersion(append.streamId(), append.expected(), current)));
        continue;
      }
      try {
        outcomes.add(AppendOutcome.appended(rows.add(append, current, stamps)));
        versions.put(append.streamId(), current + append.events().size());
        accepted.add(append);
      } catch (IllegalStateException noId) {
        outcomes.add(AppendOutcome.failed(noId));
      }
    }
    if (accepted.isEmpty()) {
      return Future.succeededFuture(outcomes);
    }
    String[] movedStreams = accepted.stream().map(StreamAppend::streamId).distinct().toArray(String[]::new);
    Integer[] movedVersions = Arrays.stream(movedStreams).map(versions::get).toArray(Integer[]::new);
    return connection.preparedQuery("UPDATE streams SET version = v.version, touched_at = now()"
            + " FROM unnest($1::text[], $2::int[]) AS v(stream_id, version)"
            // The ANY keeps a cached plan on the index even when it was made while streams was empty.
            + " WHERE streams.stream_id = v.stream_id AND streams.stream_id = ANY($1::text[])")
        .execute(Tuple.tuple().addValue(movedStreams).addValue(movedVersions))
        .compose(updated -> connection.preparedQuery("INSERT INTO events"
                + " (id, stream_id, stream_version, type, data, metadata, hlc)"
                + " SELECT id, stream_id, stream_version, type, data::jsonb, metadata::jsonb, hlc FROM unnest("
                + "$1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bigint[])"
                + " AS e(id, stream_id, stream_version, type, data, metadata, hlc)")
            .execute(rows.toTuple()))
        .compose(inserted -> SideRows.write(connection, accepted))
        .map(written -> outcomes);
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

  /** The columns of every event a batch inserts, as arrays for one {@code unnest} insert. */
  private static final class EventRows {
    private final List<Long> ids = new ArrayList<>();
    private final List<String> streamIds = new ArrayList<>();
    private final List<Integer> versions = new ArrayList<>();
    private final List<String> types = new ArrayList<>();
    private final List<String> data = new ArrayList<>();
    private final List<String> metadata = new ArrayList<>();
    private final List<Long> hlcs = new ArrayList<>();

    AppendResult add(StreamAppend append, int current, Stamps stamps) {
      List<Long> appendIds = new ArrayList<>();
      for (NewEvent event : append.events()) {
        appendIds.add(stamps.nextId());
      }
      int version = current;
      for (int i = 0; i < append.events().size(); i++) {
        NewEvent event = append.events().get(i);
        ids.add(appendIds.get(i));
        streamIds.add(append.streamId());
        versions.add(++version);
        types.add(event.type());
        data.add(event.data().encode());
        metadata.add(event.metadata().encode());
        hlcs.add(stamps.hlc());
      }
      return new AppendResult(append.streamId(), current + 1, version, appendIds);
    }

    Tuple toTuple() {
      // addValue one by one: Tuple.of(a, array) would spread the array as varargs
      return Tuple.tuple().addValue(ids.toArray(Long[]::new)).addValue(streamIds.toArray(String[]::new))
          .addValue(versions.toArray(Integer[]::new)).addValue(types.toArray(String[]::new))
          .addValue(data.toArray(String[]::new)).addValue(metadata.toArray(String[]::new))
          .addValue(hlcs.toArray(Long[]::new));
    }
  }
}
