package io.unbroken.locks.redis;

import io.unbroken.locks.FencingTokens;
import io.unbroken.platform.RedisScript;
import io.vertx.core.Future;
import io.vertx.redis.client.Redis;
import java.util.List;

/**
 * Fencing tokens kept in Redis, for deployments without PostgreSQL: they grow as long as Redis
 * keeps its data (a Redis that restarts empty starts them again; PostgreSQL's do not).
 */
public final class RedisFencingTokens implements FencingTokens {

  private static final RedisScript NEXT = new RedisScript("return redis.call('HINCRBY', KEYS[1], 'token', 1)");
  private static final RedisScript COMPLETED = new RedisScript("""
      if tonumber(redis.call('HGET', KEYS[1], 'token')) == tonumber(ARGV[1]) then
        redis.call('HINCRBY', KEYS[1], 'version', 1)
        return 1
      end
      return 0
      """);

  private final Redis redis;
  private final String keyPrefix;

  public RedisFencingTokens(Redis redis, String keyPrefix) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
  }

  @Override
  public Future<Long> next(String resource) {
    return NEXT.run(redis, List.of(key(resource)), List.of()).map(response -> response.toLong());
  }

  @Override
  public Future<Boolean> completed(String resource, long token) {
    return COMPLETED.run(redis, List.of(key(resource)), List.of(Long.toString(token)))
        .map(response -> response.toInteger() == 1);
  }

  private String key(String resource) {
    return keyPrefix + ":{lock:" + resource + "}:state";
  }
}
