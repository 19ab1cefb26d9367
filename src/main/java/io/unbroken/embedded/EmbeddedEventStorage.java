package io.unbroken.embedded;

import io.unbroken.events.AppendOutcome;
import io.unbroken.events.AppendResult;
import io.unbroken.events.EventStorage;
import io.unbroken.events.GlobalCheckpoint;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.SideRow;
import io.unbroken.events.Stamps;
import io.unbroken.events.StreamAppend;
import io.unbroken.events.WrongExpectedVersion;
import io.vertx.core.Future;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * Events kept in this process for the embedded default. A batch is one critical section, which
 * plays the part of a transaction: its checkpoints share one transaction number, so the global
 * order is the same shape as PostgreSQL's.
 */
public final class EmbeddedEventStorage implements EventStorage {

  private final Stamps stamps;
  private final InstantSource clock;
  private final List<RecordedEvent> all = new ArrayList<>();
  private final Map<String, List<RecordedEvent>> streams = new HashMap<>();
  private final Map<String, Map<List<Object>, Map<String, Object>>> sideTables = new HashMap<>();
  private long transactions;

  public EmbeddedEventStorage(Stamps stamps, InstantSource clock) {
    this.stamps = stamps;
    this.clock = clock;
  }

  @Override
  public synchronized Future<List<AppendOutcome>> appendBatch(List<StreamAppend> appends) {
    long transaction = ++transactions;
    List<AppendOutcome> outcomes = new ArrayList<>();
    for (StreamAppend append : appends) {
      outcomes.add(appendOne(append, transaction));
    }
    return Future.succeededFuture(outcomes);
  }

  @Override
  public synchronized Future<List<RecordedEvent>> readStream(String streamId, int fromVersion, Instant upTo) {
    return Future.succeededFuture(streams.getOrDefault(streamId, List.of()).stream()
        .filter(e -> e.streamVersion() >= fromVersion && !e.recordedAt().isAfter(upTo))
        .toList());
  }

  @Override
  public synchronized Future<List<RecordedEvent>> readAll(GlobalCheckpoint after, int limit) {
    return Future.succeededFuture(all.stream()
        .filter(e -> e.checkpoint().compareTo(after) > 0)
        .limit(limit)
        .toList());
  }

  /** Nothing to prepare, and nothing outlives the process anyway: retention does not apply here. */
  @Override
  public Future<Void> maintain(Duration retention) {
    return Future.succeededFuture();
  }

  /** The rows written to a side table, by key values in key order (what PostgreSQL would hold). */
  public synchronized Map<List<Object>, Map<String, Object>> sideTable(String table) {
    return Map.copyOf(sideTables.getOrDefault(table, Map.of()));
  }

  /**
   * Changes, in one critical section, the rows of a side table that {@code where} picks, up to
   * {@code limit}, as a store's own {@code UPDATE ... RETURNING} does in PostgreSQL; the rows as changed.
   */
  public synchronized List<Map<String, Object>> updateSideRows(String table, Predicate<Map<String, Object>> where,
      int limit, UnaryOperator<Map<String, Object>> change) {
    List<Map<String, Object>> changed = new ArrayList<>();
    for (var row : sideTables.getOrDefault(table, Map.of()).entrySet()) {
      if (changed.size() < limit && where.test(row.getValue())) {
        row.setValue(Map.copyOf(change.apply(new HashMap<>(row.getValue()))));
        changed.add(row.getValue());
      }
    }
    return changed;
  }

  private AppendOutcome appendOne(StreamAppend append, long transaction) {
    if (append.events().isEmpty()) {
      writeSideRows(append);
      return AppendOutcome.appended(new AppendResult(append.streamId(), 0, 0, List.of()));
    }
    List<RecordedEvent> stream = streams.computeIfAbsent(append.streamId(), id -> new ArrayList<>());
    if (!append.expected().allows(stream.size())) {
      return AppendOutcome.failed(new WrongExpectedVersion(append.streamId(), append.expected(), stream.size()));
    }
    List<Long> ids = new ArrayList<>();
    List<RecordedEvent> recorded = new ArrayList<>();
    try {
      for (NewEvent event : append.events()) {
        long id = stamps.nextId();
        ids.add(id);
        recorded.add(new RecordedEvent(new GlobalCheckpoint(transaction, all.size() + recorded.size() + 1L), id,
            append.streamId(), stream.size() + recorded.size() + 1, event.type(), event.data().copy(),
            event.metadata().copy(), stamps.hlc(), clock.instant()));
      }
    } catch (IllegalStateException e) {
      return AppendOutcome.failed(e);
    }
    int first = stream.size() + 1;
    stream.addAll(recorded);
    all.addAll(recorded);
    writeSideRows(append);
    return AppendOutcome.appended(new AppendResult(append.streamId(), first, stream.size(), ids));
  }

  private void writeSideRows(StreamAppend append) {
    for (SideRow row : append.sideRows()) {
      List<Object> key = row.key().stream().map(row.columns()::get).toList();
      if (row.removes()) {
        sideTables.computeIfPresent(row.table(), (table, rows) -> {
          rows.remove(key);
          return rows;
        });
        continue;
      }
      Map<String, Object> columns = new HashMap<>(row.columns());
      // A time the store sets is this store's clock, as it is the database's in PostgreSQL.
      columns.replaceAll((column, value) -> value instanceof SideRow.StoreTime time
          ? clock.instant().plus(time.fromNow()).atOffset(ZoneOffset.UTC) : value);
      // An upsert sets the columns it names and keeps the others, as PostgreSQL's ON CONFLICT DO UPDATE does.
      sideTables.computeIfAbsent(row.table(), t -> new HashMap<>()).merge(key, Map.copyOf(columns), (stored, named) -> {
        Map<String, Object> merged = new HashMap<>(stored);
        merged.putAll(named);
        return Map.copyOf(merged);
      });
    }
  }
}
