package io.unbroken.platform;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's Redis client. A command sent from an event loop goes on a connection of that event
 * loop's own, kept open and shared by all its commands (pipelined): it is written and answered on
 * the thread that sent it, with no pool lease per command and no hop to another thread, which on
 * a busy node is most of what a Redis round trip costs. What one turn of the loop sends leaves in
 * one write ({@link RedisFlushCoalescing}). Commands sent from anywhere else go through an
 * ordinary pool.
 */
public final class EventLoopRedis implements Redis {

  private static final Logger log = LoggerFactory.getLogger(EventLoopRedis.class);

  private final Redis pooled;
  // One single-connection client per event loop, made up front so none is tied to a verticle's life.
  private final List<Redis> perLoop;
  private final Map<Thread, Optional<Pinned>> pins = new ConcurrentHashMap<>();
  private final AtomicInteger nextLoop = new AtomicInteger();

  public EventLoopRedis(Vertx vertx, RedisOptions options, int eventLoops) {
    this.pooled = Redis.createClient(vertx, options);
    this.perLoop = new ArrayList<>();
    for (int i = 0; i < eventLoops; i++) {
      // One connection now carries what the pool's connections carried between them.
      perLoop.add(Redis.createClient(vertx, new RedisOptions(options).setMaxPoolSize(1).setMaxPoolWaiting(1)
          .setMaxWaitingHandlers(options.getMaxWaitingHandlers() * options.getMaxPoolSize())));
    }
  }

  @Override
  public Future<Response> send(Request command) {
    Optional<Pinned> pinned = pinnedHere();
    return pinned.isEmpty() ? pooled.send(command) : pinned.get().withConnection(c -> c.send(command));
  }

  @Override
  public Future<List<Response>> batch(List<Request> commands) {
    Optional<Pinned> pinned = pinnedHere();
    return pinned.isEmpty() ? pooled.batch(commands) : pinned.get().withConnection(c -> c.batch(commands));
  }

  /** A connection of its own for the caller, from the pool (subscriptions, transactions). */
  @Override
  public Future<RedisConnection> connect() {
    return pooled.connect();
  }

  @Override
  public Future<Void> close() {
    List<Future<Void>> closed = new ArrayList<>();
    closed.add(pooled.close());
    perLoop.forEach(client -> closed.add(client.close()));
    return Future.join(closed).mapEmpty();
  }

  private Optional<Pinned> pinnedHere() {
    if (!Context.isOnEventLoopThread()) {
      return Optional.empty();
    }
    return pins.computeIfAbsent(Thread.currentThread(), thread -> {
      int loop = nextLoop.getAndIncrement();
      // More event loops than expected: the rest share the pool rather than wait for a taken connection.
      return loop < perLoop.size() ? Optional.of(new Pinned(perLoop.get(loop))) : Optional.empty();
    });
  }

  /** One event loop's connection; only that loop's thread touches it. */
  private static final class Pinned {
    private final Redis client;
    private Future<RedisConnection> connection;

    Pinned(Redis client) {
      this.client = client;
    }

    /**
     * Runs {@code command} on the loop's connection, in the caller's context: the command's
     * promise, and so every callback on its reply, belongs to the request that sent it, not to
     * whichever request opened the connection.
     */
    <T> Future<T> withConnection(Function<RedisConnection, Future<T>> command) {
      Future<RedisConnection> current = connection();
      if (current.succeeded()) {
        return command.apply(current.result());
      }
      Context caller = Vertx.currentContext();
      if (caller == null) {
        return current.compose(command);
      }
      Promise<T> result = Promise.promise();
      current.onComplete(opened -> caller.runOnContext(v -> {
        if (opened.succeeded()) {
          command.apply(opened.result()).onComplete(result);
        } else {
          result.fail(opened.cause());
        }
      }));
      return result.future();
    }

    private Future<RedisConnection> connection() {
      if (connection == null || connection.failed()) {
        Future<RedisConnection> opening = client.connect();
        connection = opening;
        // A broken connection fails the commands it carried; the next command opens a new one.
        opening.onSuccess(open -> RedisFlushCoalescing.install(open)
            .exceptionHandler(failure -> forget(opening, open, failure))
            .endHandler(ended -> forget(opening, open, null)));
      }
      return connection;
    }

    /** Gives the connection back, so its pool slot is free for the next one even if the socket lives on. */
    private void forget(Future<RedisConnection> broken, RedisConnection open, Throwable failure) {
      if (connection == broken) {
        connection = null;
        if (failure != null) {
          log.warn("Redis connection of this event loop failed, the next command opens another: {}",
              failure.getMessage());
        }
        open.close();
      }
    }
  }
}
