package io.unbroken.embedded;

import io.unbroken.locks.FencingTokens;
import io.unbroken.locks.LockLeases;
import io.vertx.core.Future;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Map;

/** Lock leases and fencing tokens held in this process, for the embedded default. */
public final class EmbeddedLocks implements LockLeases, FencingTokens {

  private record Lease(String owner, long expiresAt) {}

  private record State(long token, long version) {}

  private final InstantSource clock;
  private final Map<String, Lease> leases = new HashMap<>();
  private final Map<String, State> states = new HashMap<>();

  public EmbeddedLocks(InstantSource clock) {
    this.clock = clock;
  }

  @Override
  public synchronized Future<Boolean> tryLease(String resource, String owner, Duration lease) {
    long now = clock.millis();
    Lease current = leases.get(resource);
    if (current != null && current.expiresAt() > now) {
      return Future.succeededFuture(false);
    }
    leases.put(resource, new Lease(owner, now + lease.toMillis()));
    return Future.succeededFuture(true);
  }

  @Override
  public synchronized Future<Void> release(String resource, String owner) {
    Lease current = leases.get(resource);
    if (current != null && current.owner().equals(owner)) {
      leases.remove(resource);
    }
    return Future.succeededFuture();
  }

  @Override
  public synchronized Future<Long> next(String resource) {
    State state = states.merge(resource, new State(1, 0), (old, fresh) -> new State(old.token() + 1, old.version()));
    return Future.succeededFuture(state.token());
  }

  @Override
  public synchronized Future<Boolean> completed(String resource, long token) {
    State state = states.get(resource);
    if (state == null || state.token() != token) {
      return Future.succeededFuture(false);
    }
    states.put(resource, new State(token, state.version() + 1));
    return Future.succeededFuture(true);
  }

  /** The resource's version: writes completed under a then-latest token. */
  public synchronized long version(String resource) {
    State state = states.get(resource);
    return state == null ? 0 : state.version();
  }
}
