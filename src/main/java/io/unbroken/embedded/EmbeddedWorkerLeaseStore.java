package io.unbroken.embedded;

import io.unbroken.ids.SnowflakeIds;
import io.unbroken.ids.WorkerLeaseStore;
import io.vertx.core.Future;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** Worker-id leases held in this process, for the embedded default where one JVM is the whole cluster. */
public final class EmbeddedWorkerLeaseStore implements WorkerLeaseStore {

  private record Lease(String owner, long expiresAt) {}

  private final InstantSource clock;
  private final Map<String, Lease> leases = new HashMap<>();

  public EmbeddedWorkerLeaseStore(InstantSource clock) {
    this.clock = clock;
  }

  @Override
  public synchronized Future<Integer> acquire(int datacenter, String owner, Duration ttl) {
    long now = clock.millis();
    for (int worker = 0; worker <= SnowflakeIds.MAX_WORKER; worker++) {
      String key = datacenter + ":" + worker;
      Lease lease = leases.get(key);
      if (lease == null || lease.expiresAt() <= now) {
        leases.put(key, new Lease(owner, now + ttl.toMillis()));
        return Future.succeededFuture(worker);
      }
    }
    return Future.failedFuture(new NoWorkerIdAvailable(datacenter));
  }

  @Override
  public synchronized Future<Boolean> renew(int datacenter, int workerId, String owner, Duration ttl) {
    String key = datacenter + ":" + workerId;
    long now = clock.millis();
    Lease lease = leases.get(key);
    boolean held = lease != null && lease.owner().equals(owner) && lease.expiresAt() > now;
    if (held) {
      leases.put(key, new Lease(owner, now + ttl.toMillis()));
    }
    return Future.succeededFuture(held);
  }

  @Override
  public synchronized Future<Set<String>> liveOwners(int datacenter) {
    long now = clock.millis();
    Set<String> owners = new HashSet<>();
    leases.forEach((key, lease) -> {
      if (key.startsWith(datacenter + ":") && lease.expiresAt() > now) {
        owners.add(lease.owner());
      }
    });
    return Future.succeededFuture(owners);
  }

  /** True while {@code owner} holds a lease of any worker id: the node is alive. */
  public synchronized boolean holdsLease(String owner) {
    long now = clock.millis();
    return leases.values().stream().anyMatch(lease -> lease.owner().equals(owner) && lease.expiresAt() > now);
  }

  @Override
  public synchronized Future<Void> release(int datacenter, int workerId, String owner) {
    String key = datacenter + ":" + workerId;
    Lease lease = leases.get(key);
    if (lease != null && lease.owner().equals(owner)) {
      leases.remove(key);
    }
    return Future.succeededFuture();
  }
}
