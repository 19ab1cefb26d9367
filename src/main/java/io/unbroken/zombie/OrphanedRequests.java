package io.unbroken.zombie;

import io.vertx.core.Future;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Where durable in-flight rows are read by the reaper: the rows of nodes whose liveness lease
 * (their worker-id lease) has ended, by the store's clock. The rows themselves are written and
 * removed by the event store, with the events of their requests. Every method returns a future
 * and never throws.
 */
public interface OrphanedRequests {

  /**
   * Takes or extends the reaper's lease for {@code lease} from now: true when {@code node} holds
   * it, false while another node's lease runs. One pass at a time runs in the whole cluster.
   */
  Future<Boolean> leaseReaper(String node, Duration lease);

  /** Up to {@code limit} in-flight requests of nodes without a live lease, oldest first. */
  Future<Found> ofDeadNodes(int limit);

  /** Requests found, and the store's time as it found them (how old they are, by its clock). */
  record Found(List<InflightRequest> requests, Instant storeTime) {}
}
