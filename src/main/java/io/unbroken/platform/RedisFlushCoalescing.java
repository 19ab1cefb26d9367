package io.unbroken.platform;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.impl.PooledRedisConnection;
import java.lang.reflect.Field;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets the commands an event loop sends on its Redis connection during one turn leave in one
 * write. The client flushes every command on its own, so each costs a write here and a read in
 * Redis, more than Redis spends on the command itself; Netty's {@link FlushConsolidationHandler},
 * put in front of the connection's socket, holds the flushes of one turn and flushes once at its
 * end. Replies and failures stay per command: nothing but the syscalls changes. Measured with
 * {@code loadtest/idempotency-bench.sh}, fresh keys against {@code /pass} (closed-loop maximum)
 * went from 0.31-0.33 to 0.38-0.43; {@code -Dunbroken.redis.coalesceFlushes=false} turns it off
 * to compare.
 *
 * <p>The client keeps its socket to itself, so it is reached by reflection. Should a later client
 * hide it differently, commands are flushed one by one as before, with one warning.
 */
final class RedisFlushCoalescing {

  static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("unbroken.redis.coalesceFlushes", "true"));

  private static final Logger log = LoggerFactory.getLogger(RedisFlushCoalescing.class);
  private static final AtomicBoolean warned = new AtomicBoolean();
  // Flushes held at most before one goes out anyway, so a long turn does not build up a huge write.
  private static final int MAX_HELD_FLUSHES = 256;

  private RedisFlushCoalescing() {
  }

  /** Makes {@code connection} flush once per event-loop turn; returns it. */
  static RedisConnection install(RedisConnection connection) {
    if (!ENABLED) {
      return connection;
    }
    try {
      Object standalone = ((PooledRedisConnection) connection).actual();
      Field socket = standalone.getClass().getDeclaredField("netSocket");
      socket.setAccessible(true);
      ChannelHandlerContext client = ((NetSocketInternal) socket.get(standalone)).channelHandlerContext();
      // Before the client's handler, towards the socket: every flush it makes passes through.
      client.pipeline().addBefore(client.name(), "unbroken-flush-coalescing",
          new FlushConsolidationHandler(MAX_HELD_FLUSHES, true));
    } catch (ReflectiveOperationException | RuntimeException unexpected) {
      if (warned.compareAndSet(false, true)) {
        log.warn("Redis commands are flushed one by one: this client's connection cannot take a flush coalescer ({})",
            unexpected.toString());
      }
    }
    return connection;
  }
}
