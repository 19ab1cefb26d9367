package io.unbroken.ids;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.Set;

/**
 * Leases Snowflake worker ids so that no two live nodes of a datacenter hold the same one. A lease
 * lasts {@code ttl} unless renewed by its owner; a dead node's id becomes free when its lease ends.
 * Every method returns a future and never throws.
 */
public interface WorkerLeaseStore {

  /** Leases the lowest free worker id; fails with {@link NoWorkerIdAvailable} when all 32 are held. */
  Future<Integer> acquire(int datacenter, String owner, Duration ttl);

  /** Extends the lease if {@code owner} still holds it; false when it was lost. */
  Future<Boolean> renew(int datacenter, int workerId, String owner, Duration ttl);

  /** The owners of the datacenter's live leases: the nodes that are alive, by the store's clock. */
  Future<Set<String>> liveOwners(int datacenter);

  /** Gives the id back if {@code owner} holds it. */
  Future<Void> release(int datacenter, int workerId, String owner);

  /** Every worker id of a datacenter is leased by a live node. */
  final class NoWorkerIdAvailable extends RuntimeException {
    public NoWorkerIdAvailable(int datacenter) {
      super("all " + (SnowflakeIds.MAX_WORKER + 1) + " worker ids of datacenter " + datacenter + " are leased");
    }
  }
}
