package io.unbroken.embedded;

import io.unbroken.events.EventStorage;
import io.unbroken.events.EventStorageContract;
import io.unbroken.events.Stamps;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The event storage contract against the in-process store, on a clock the tests move by hand. */
class EmbeddedEventStorageTest extends EventStorageContract {

  private final ManualClock clock = ManualClock.at("2025-06-01T12:00:00Z");
  private EmbeddedEventStorage storage;

  @Override
  protected EventStorage createStorage(Vertx vertx) {
    SnowflakeIds ids = new SnowflakeIds(clock, 0, 60_000);
    ids.holdWorker(1, Long.MAX_VALUE);
    storage = new EmbeddedEventStorage(new Stamps(ids, new HybridLogicalClock(clock, 1_000)), clock);
    return storage;
  }

  @Override
  protected Future<Optional<Map<String, String>>> sideRow(String k) {
    Map<String, Object> row = storage.sideTable(SIDE_TABLE).get(List.of(k));
    return Future.succeededFuture(Optional.ofNullable(row).map(EmbeddedEventStorageTest::withoutKey));
  }

  private static Map<String, String> withoutKey(Map<String, Object> row) {
    Map<String, String> columns = new HashMap<>();
    row.forEach((column, value) -> {
      if (!column.equals("k") && value != null) {
        columns.put(column, (String) value);
      }
    });
    return columns;
  }

  @Override
  protected Future<Void> letTimePass() {
    clock.advance(1_000);
    return Future.succeededFuture();
  }
}
