package io.unbroken.platform;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.testing.Await;
import io.unbroken.testing.PrivateRedis;
import io.unbroken.testing.TestServices;
import io.vertx.core.AbstractVerticle;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's Redis client on the real Redis: one connection per event loop, replaced when it breaks. */
class EventLoopRedisIT {

  private Vertx vertx;
  private EventLoopRedis redis;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    redis = new EventLoopRedis(vertx, new RedisOptions().setConnectionString(TestServices.redisUrl()), 4);
  }

  @AfterEach
  void stop() {
    Await.result(redis.close());
    Await.result(vertx.close());
  }

  @Test
  void commandsFromOneEventLoopShareItsConnectionAndEachLoopHasItsOwn() {
    Context first = newEventLoopContext();
    Context second = newEventLoopContext();
    assertThat(Await.result(on(first, () -> Future.succeededFuture(Thread.currentThread()))))
        .as("two event loops").isNotEqualTo(Await.result(on(second, () -> Future.succeededFuture(Thread.currentThread()))));

    Set<Long> firstIds = Await.result(on(first, this::clientIdsAtOnce));
    Set<Long> secondIds = Await.result(on(second, this::clientIdsAtOnce));

    assertThat(firstIds).as("50 commands sent at once from one event loop, on one connection").hasSize(1);
    assertThat(secondIds).hasSize(1).doesNotContainAnyElementsOf(firstIds);
  }

  @Test
  void aConnectionTheServerClosedIsReplacedForTheNextCommands() {
    Context loop = newEventLoopContext();
    long before = Await.result(on(loop, this::clientId));
    Redis other = Redis.createClient(vertx, TestServices.redisUrl());
    try {
      Await.result(other.send(Request.cmd(Command.CLIENT).arg("KILL").arg("ID").arg(before)));
    } finally {
      Await.result(other.close());
    }

    // A command already on its way when the socket closed may fail; the ones after it must not.
    long after = -1;
    for (int attempt = 0; attempt < 50 && after < 0; attempt++) {
      after = Await.result(on(loop, () -> clientId().otherwise(-1L)));
      if (after < 0) {
        Await.result(vertx.timer(20));
      }
    }
    assertThat(after).as("a new connection answered").isPositive().isNotEqualTo(before);
  }

  @Test
  void repliesComeBackOnTheContextThatSentTheCommandNotTheOneThatOpenedTheConnection() {
    Context opener = newEventLoopContext();
    Await.result(on(opener, this::clientId));
    Thread loop = Await.result(on(opener, () -> Future.succeededFuture(Thread.currentThread())));
    // Deployments take the event loops in turn: within a few, one shares the opener's loop.
    Context sharer = null;
    for (int i = 0; i < 16 && sharer == null; i++) {
      Context candidate = newEventLoopContext();
      if (Await.result(on(candidate, () -> Future.succeededFuture(Thread.currentThread()))) == loop) {
        sharer = candidate;
      }
    }
    assertThat(sharer).as("a second verticle on the opener's event loop").isNotNull();
    Context sender = sharer;

    Context replyContext = Await.result(on(sender, () -> clientId().map(id -> Vertx.currentContext())));

    assertThat(replyContext).isSameAs(sender);
  }

  @Test
  void commandsSentInOneTurnOfTheLoopReachRedisInOneWrite(@TempDir Path logs) throws Exception {
    try (PrivateRedis server = PrivateRedis.start(logs)) {
      RedisOptions options = new RedisOptions().setConnectionString(server.settings("coalescing").url());
      EventLoopRedis own = new EventLoopRedis(vertx, options, 1);
      Redis observer = Redis.createClient(vertx, options);
      try {
        Context loop = newEventLoopContext();
        Await.result(on(loop, () -> own.send(Request.cmd(Command.PING))));
        long readsBefore = readsProcessed(observer);

        Await.result(on(loop, () -> Future.all(IntStream.range(0, 50)
            .mapToObj(i -> own.send(Request.cmd(Command.INCR).arg("coalescing"))).toList())));

        // Redis counts a read per read(2) on any client's socket; the observer's second INFO is one of them.
        assertThat(readsProcessed(observer) - readsBefore).as("reads Redis made for 50 commands sent in one turn")
            .isLessThanOrEqualTo(3);
        assertThat(Await.result(observer.send(Request.cmd(Command.GET).arg("coalescing"))).toInteger()).isEqualTo(50);
      } finally {
        Await.result(observer.close());
        Await.result(own.close());
      }
    }
  }

  private static long readsProcessed(Redis observer) {
    String stats = Await.result(observer.send(Request.cmd(Command.INFO).arg("stats"))).toString();
    return stats.lines().filter(line -> line.startsWith("total_reads_processed:"))
        .mapToLong(line -> Long.parseLong(line.substring(line.indexOf(':') + 1).trim())).findFirst().orElseThrow();
  }

  private Future<Long> clientId() {
    return redis.send(Request.cmd(Command.CLIENT).arg("ID")).map(Response::toLong);
  }

  private Future<Set<Long>> clientIdsAtOnce() {
    List<Future<Long>> ids = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      ids.add(clientId());
    }
    return Future.all(ids).map(all -> ids.stream().map(Future::result).collect(Collectors.toSet()));
  }

  /** A verticle that lends its context: each deployment takes the next event loop. */
  private static final class Probe extends AbstractVerticle {
    Context context() {
      return context;
    }
  }

  private Context newEventLoopContext() {
    Probe probe = new Probe();
    Await.result(vertx.deployVerticle(probe));
    return probe.context();
  }

  private static <T> Future<T> on(Context context, Supplier<Future<T>> action) {
    Promise<T> done = Promise.promise();
    context.runOnContext(v -> action.get().onComplete(done));
    return done.future().timeout(10, TimeUnit.SECONDS);
  }
}
