package io.unbroken.embedded;

import io.unbroken.saga.SagaEvents;
import io.unbroken.saga.SagaStatus;
import io.unbroken.saga.SagaStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/** Saga ownership and listing over the rows the embedded event store keeps in table {@code sagas}. */
public final class EmbeddedSagaStore implements SagaStore {

  private final EmbeddedEventStorage storage;
  private final InstantSource clock;

  public EmbeddedSagaStore(EmbeddedEventStorage storage, InstantSource clock) {
    this.storage = storage;
    this.clock = clock;
  }

  @Override
  public Future<Set<String>> renew(String node, Set<String> running, Duration lease) {
    OffsetDateTime until = now().plus(lease);
    storage.updateSideRows(SagaEvents.TABLE,
        row -> active(row) && node.equals(row.get("owner")) && running.contains(row.get("saga_id")), Integer.MAX_VALUE,
        row -> {
          row.put("lease_until", until);
          return row;
        });
    Map<List<Object>, Map<String, Object>> rows = storage.sideTable(SagaEvents.TABLE);
    return Future.succeededFuture(running.stream()
        .filter(id -> Optional.ofNullable(rows.get(List.<Object>of(id)))
            .map(row -> !node.equals(row.get("owner"))).orElse(false))
        .collect(Collectors.toSet()));
  }

  @Override
  public Future<List<Owned>> takeOver(String node, Duration lease, int limit) {
    OffsetDateTime now = now();
    return Future.succeededFuture(storage.updateSideRows(SagaEvents.TABLE,
            row -> active(row) && !((OffsetDateTime) row.get("lease_until")).isAfter(now), limit,
            row -> {
              row.put("owner", node);
              row.put("fence", (Long) row.get("fence") + 1);
              row.put("lease_until", now.plus(lease));
              return row;
            })
        .stream().map(row -> new Owned((String) row.get("saga_id"), (Long) row.get("fence"))).toList());
  }

  @Override
  public Future<Void> release(String node) {
    OffsetDateTime now = now();
    storage.updateSideRows(SagaEvents.TABLE, row -> active(row) && node.equals(row.get("owner")), Integer.MAX_VALUE,
        row -> {
          row.put("lease_until", now);
          return row;
        });
    return Future.succeededFuture();
  }

  @Override
  public Future<Boolean> compensationOverdue(String sagaId, Duration deadline) {
    return Future.succeededFuture(row(sagaId)
        .map(row -> (OffsetDateTime) row.get("compensating_since"))
        .map(since -> !since.plus(deadline).isAfter(now()))
        .orElse(false));
  }

  @Override
  public Future<List<JsonObject>> list(Optional<SagaStatus> status, Optional<String> after, int limit) {
    return Future.succeededFuture(storage.sideTable(SagaEvents.TABLE).values().stream()
        .filter(row -> status.map(s -> s.label().equals(row.get("status"))).orElse(true))
        .filter(row -> ((String) row.get("saga_id")).compareTo(after.orElse("")) > 0)
        .sorted(Comparator.comparing(row -> (String) row.get("saga_id")))
        .limit(limit)
        .map(EmbeddedSagaStore::listed)
        .toList());
  }

  @Override
  public Future<Map<SagaStatus, Long>> count() {
    Map<SagaStatus, Long> counts = new EnumMap<>(SagaStatus.class);
    for (SagaStatus status : SagaStatus.values()) {
      counts.put(status, 0L);
    }
    storage.sideTable(SagaEvents.TABLE).values()
        .forEach(row -> SagaStatus.parse((String) row.get("status")).ifPresent(s -> counts.merge(s, 1L, Long::sum)));
    return Future.succeededFuture(counts);
  }

  private Optional<Map<String, Object>> row(String sagaId) {
    return Optional.ofNullable(storage.sideTable(SagaEvents.TABLE).get(List.of(sagaId)));
  }

  private static boolean active(Map<String, Object> row) {
    return SagaStatus.parse((String) row.get("status")).map(SagaStatus::active).orElse(false);
  }

  private OffsetDateTime now() {
    return clock.instant().atOffset(ZoneOffset.UTC);
  }

  private static JsonObject listed(Map<String, Object> row) {
    return new JsonObject().put("id", row.get("saga_id")).put("name", row.get("name"))
        .put("status", row.get("status")).put("step", row.get("step")).put("reason", row.get("reason"))
        .put("lastAnswer", row.get("last_answer"))
        .put("startedAt", ((OffsetDateTime) row.get("started_at")).toInstant().toString())
        .put("updatedAt", ((OffsetDateTime) row.get("updated_at")).toInstant().toString())
        .put("owner", row.get("owner"));
  }
}
