package io.unbroken.embedded;

import io.unbroken.zombie.InflightRequest;
import io.unbroken.zombie.OrphanedRequests;
import io.vertx.core.Future;
import java.time.Duration;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.util.Comparator;
import java.util.Map;

/**
 * The in-flight rows of the embedded event store whose node holds no lease in the embedded lease
 * store. With everything in one process a dead node takes its rows along, so in the embedded
 * default this finds nothing; it exists so the reaper reads the same way everywhere.
 */
public final class EmbeddedOrphanedRequests implements OrphanedRequests {

  private final EmbeddedEventStorage storage;
  private final EmbeddedWorkerLeaseStore leases;
  private final InstantSource clock;
  private String reaper;
  private long reaperLeaseUntil;

  public EmbeddedOrphanedRequests(EmbeddedEventStorage storage, EmbeddedWorkerLeaseStore leases, InstantSource clock) {
    this.storage = storage;
    this.leases = leases;
    this.clock = clock;
  }

  @Override
  public synchronized Future<Boolean> leaseReaper(String node, Duration lease) {
    long now = clock.millis();
    if (reaper != null && !reaper.equals(node) && reaperLeaseUntil > now) {
      return Future.succeededFuture(false);
    }
    reaper = node;
    reaperLeaseUntil = now + lease.toMillis();
    return Future.succeededFuture(true);
  }

  @Override
  public Future<Found> ofDeadNodes(int limit) {
    return Future.succeededFuture(new Found(storage.sideTable(InflightRequest.TABLE).values().stream()
        .filter(row -> !leases.holdsLease((String) row.get("node")))
        .map(EmbeddedOrphanedRequests::inflightRequest)
        .sorted(Comparator.comparing(InflightRequest::started))
        .limit(limit)
        .toList(), clock.instant()));
  }

  private static InflightRequest inflightRequest(Map<String, Object> row) {
    return new InflightRequest((String) row.get("request_id"), (String) row.get("node"), (String) row.get("route"),
        (String) row.get("method"), (String) row.get("path"), (String) row.get("client"),
        (String) row.get("idempotency_scope"), (String) row.get("fingerprint"),
        ((OffsetDateTime) row.get("started")).toInstant(), (Long) row.get("timeout_ms"));
  }
}
