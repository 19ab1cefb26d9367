package io.unbroken.saga;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The table of sagas beside their streams: which node owns each active saga until when (leases
 * judged by the store's clock, a fencing token raised at every change of owner), and what the
 * admin API lists. Rows are created and their status moved by side rows of the sagas' own appends;
 * this store only moves ownership and reads. Every method returns a future and never throws.
 */
public interface SagaStore {

  /**
   * Extends the leases of the active sagas of {@code running} that {@code node} owns, and says
   * which of them another node (or no node, after an operator's action) owns now. A saga the node owns but does not run
   * (its resumption failed half way) is not extended, so its lease ends and a node takes it again.
   * A row that a transition is writing at that moment is passed over: waiting for it could
   * deadlock with the event store's batch, and the transition extends the lease itself.
   */
  Future<Set<String>> renew(String node, Set<String> running, Duration lease);

  /**
   * Takes up to {@code limit} active sagas whose owner's lease has ended (a dead node's, or one an
   * operator gave back), each under a fencing token one above its last.
   */
  Future<List<Owned>> takeOver(String node, Duration lease, int limit);

  /** Ends the leases of {@code node}'s active sagas now: a node that stops hands them on at once. */
  Future<Void> release(String node);

  /** True once the saga has been compensating for {@code deadline}, by the store's clock. */
  Future<Boolean> compensationOverdue(String sagaId, Duration deadline);

  /** Sagas in id order after {@code after}, of one status or all. */
  Future<List<JsonObject>> list(Optional<SagaStatus> status, Optional<String> after, int limit);

  /** How many sagas are in each status. */
  Future<Map<SagaStatus, Long>> count();

  /** A saga this node now owns, and the fencing token its transitions carry. */
  record Owned(String sagaId, long fence) {}
}
