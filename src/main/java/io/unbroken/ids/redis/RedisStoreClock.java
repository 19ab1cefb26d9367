package io.unbroken.ids.redis;

import io.unbroken.ids.StoreClock;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.time.Instant;

/** Redis's clock ({@code TIME}), the one its claim and lease scripts judge by. */
public final class RedisStoreClock implements StoreClock {

  private final Redis redis;

  public RedisStoreClock(Redis redis) {
    this.redis = redis;
  }

  @Override
  public String store() {
    return "redis";
  }

  @Override
  public Future<Instant> read() {
    return redis.send(Request.cmd(Command.TIME))
        .map(time -> Instant.ofEpochSecond(time.get(0).toLong(), time.get(1).toLong() * 1_000));
  }
}
