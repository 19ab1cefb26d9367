package io.unbroken.locks.redis;

import io.unbroken.locks.LockLeases;
import io.unbroken.platform.RedisScript;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.List;

/** Lock leases as Redis keys {@code <prefix>:{lock:<resource>}} holding the owner, with a PX expiry. */
public final class RedisLockLeases implements LockLeases {

  private final Redis redis;
  private final String keyPrefix;

  public RedisLockLeases(Redis redis, String keyPrefix) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
  }

  @Override
  public Future<Boolean> tryLease(String resource, String owner, Duration lease) {
    return redis.send(Request.cmd(Command.SET).arg(key(resource)).arg(owner).arg("NX").arg("PX").arg(lease.toMillis()))
        .map(response -> response != null);
  }

  @Override
  public Future<Void> release(String resource, String owner) {
    return RedisScript.DELETE_IF_OWNED.run(redis, List.of(key(resource)), List.of(owner)).mapEmpty();
  }

  private String key(String resource) {
    return keyPrefix + ":{lock:" + resource + "}";
  }
}
