package io.unbroken.platform;

import io.unbroken.config.UnbrokenConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;

/** Builds the node's Redis client from configuration and checks that the server answers. */
public final class RedisConnector {

  private RedisConnector() {}

  /** A client for a node whose Vert.x has the default number of event loops. */
  public static Redis create(Vertx vertx, UnbrokenConfig.Redis config) {
    return new EventLoopRedis(vertx, new RedisOptions()
        .setConnectionString(config.url())
        .setMaxPoolSize(16)
        .setMaxPoolWaiting(1024)
        .setMaxWaitingHandlers(4096), VertxOptions.DEFAULT_EVENT_LOOP_POOL_SIZE);
  }

  public static Future<Void> ping(Redis redis) {
    return redis.send(Request.cmd(Command.PING)).mapEmpty();
  }

  /** Pings, failing with a {@link StartupFailure} that names the key and address. */
  public static Future<Void> checkReachable(Redis redis, UnbrokenConfig.Redis config) {
    return ping(redis).recover(failure -> Future.failedFuture(
        new StartupFailure(
            "redis.url: cannot reach " + StartupFailure.redact(config.url()) + ": " + failure.getMessage())));
  }
}
