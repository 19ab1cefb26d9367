package io.unbroken.ids.redis;

import io.unbroken.ids.SnowflakeIds;
import io.unbroken.ids.WorkerLeaseStore;
import io.unbroken.platform.RedisScript;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Worker-id leases as Redis keys {@code <prefix>:{workers:<dc>}:<id>} holding the owner, with a
 * PX expiry. Every change is one Lua script checked by owner, so no lease is taken over by a
 * check-then-set race; the hash tag keeps a datacenter's keys in one cluster slot.
 */
public final class RedisWorkerLeaseStore implements WorkerLeaseStore {

  private static final RedisScript ACQUIRE = new RedisScript("""
      for i = 1, #KEYS do
        if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then return i - 1 end
      end
      return -1
      """);
  private static final RedisScript RENEW = new RedisScript("""
      if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
      return 0
      """);

  private final Redis redis;
  private final String keyPrefix;

  public RedisWorkerLeaseStore(Redis redis, String keyPrefix) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
  }

  @Override
  public Future<Integer> acquire(int datacenter, String owner, Duration ttl) {
    return ACQUIRE.run(redis, workerKeys(datacenter), List.of(owner, Long.toString(ttl.toMillis())))
        .map(Response::toInteger)
        .compose(worker -> worker < 0
            ? Future.failedFuture(new NoWorkerIdAvailable(datacenter))
            : Future.succeededFuture(worker));
  }

  @Override
  public Future<Boolean> renew(int datacenter, int workerId, String owner, Duration ttl) {
    return RENEW.run(redis, List.of(key(datacenter, workerId)), List.of(owner, Long.toString(ttl.toMillis())))
        .map(response -> response.toInteger() == 1);
  }

  @Override
  public Future<Set<String>> liveOwners(int datacenter) {
    List<String> keys = workerKeys(datacenter);
    Request mget = Request.cmd(Command.MGET);
    keys.forEach(mget::arg);
    return redis.send(mget).map(owners -> {
      Set<String> live = new HashSet<>();
      owners.forEach(owner -> {
        if (owner != null) {
          live.add(owner.toString());
        }
      });
      return live;
    });
  }

  @Override
  public Future<Void> release(int datacenter, int workerId, String owner) {
    return RedisScript.DELETE_IF_OWNED.run(redis, List.of(key(datacenter, workerId)), List.of(owner)).mapEmpty();
  }

  private List<String> workerKeys(int datacenter) {
    List<String> keys = new ArrayList<>();
    for (int worker = 0; worker <= SnowflakeIds.MAX_WORKER; worker++) {
      keys.add(key(datacenter, worker));
    }
    return keys;
  }

  private String key(int datacenter, int worker) {
    return keyPrefix + ":{workers:" + datacenter + "}:" + worker;
  }
}
