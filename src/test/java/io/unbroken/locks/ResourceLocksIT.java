package io.unbroken.locks;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.locks.redis.RedisLockLeases;
import io.unbroken.platform.RedisConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestServices;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.redis.client.Redis;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Route locks end to end, with leases in the real Redis and fencing tokens in the real PostgreSQL. */
class ResourceLocksIT {

  private static Vertx vertx;
  private static Context clientContext;
  private static UnbrokenNode node;
  private static HttpClientAgent client;
  private static Redis redis;
  private static UnbrokenConfig.Redis redisConfig;
  private static final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
  private static final Map<String, AtomicInteger> mostAtOnce = new ConcurrentHashMap<>();
  private static final Map<String, List<Long>> tokens = new ConcurrentHashMap<>();
  private static final AtomicInteger acrossResources = new AtomicInteger();
  /** The most requests the upstream held at once, over all resources. */
  private static final AtomicInteger peakAcrossResources = new AtomicInteger();

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    clientContext = vertx.getOrCreateContext();
    int upstreamPort = FreePorts.next();
    TestUpstream upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    upstream.on("/accounts", request -> {
      String account = request.path();
      int now = inFlight.computeIfAbsent(account, a -> new AtomicInteger()).incrementAndGet();
      peakAcrossResources.accumulateAndGet(acrossResources.incrementAndGet(), Math::max);
      mostAtOnce.computeIfAbsent(account, a -> new AtomicInteger()).accumulateAndGet(now, Math::max);
      tokens.computeIfAbsent(account, a -> new CopyOnWriteArrayList<>())
          .add(Long.parseLong(request.getHeader("X-Fencing-Token")));
      vertx.setTimer(10, t -> {
        inFlight.get(account).decrementAndGet();
        acrossResources.decrementAndGet();
        request.response().end("done");
      });
    });
    redisConfig = TestServices.redis("locks");
    RouteConfig accounts = new RouteConfig("/accounts", URI.create("http://127.0.0.1:" + upstreamPort), Set.of(),
        Duration.ofSeconds(10), 1024, RouteConfig.EventsMode.OFF, IdempotencyPolicy.DISABLED,
        Optional.of(new LockTemplate("/accounts/{id}")));
    UnbrokenConfig config = TestNodes.withStores(Optional.of(redisConfig),
        Optional.of(TestServices.freshDatabase("locks")), Optional.empty(), List.of(accounts));
    node = Await.result(UnbrokenNode.start(config));
    client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1")
        .setDefaultPort(config.server().port()), new PoolOptions().setHttp1MaxSize(100));
    redis = RedisConnector.create(vertx, redisConfig);
  }

  @AfterAll
  static void stop() {
    Await.result(node.close());
    Await.result(vertx.close());
  }

  @Test
  void requestsOnOneResourceRunOneAtATimeWithGrowingFencingTokens() {
    List<Integer> statuses = send(List.of("/accounts/serial/debit"), 40);

    assertThat(statuses).containsOnly(200).hasSize(40);
    assertThat(mostAtOnce.get("/accounts/serial/debit").get()).isEqualTo(1);
    List<Long> seen = tokens.get("/accounts/serial/debit");
    assertThat(seen).hasSize(40).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void differentResourcesRunInParallel() {
    List<String> paths = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      paths.add("/accounts/parallel-" + i);
    }
    List<Integer> statuses = send(paths, 40);

    assertThat(statuses).containsOnly(200);
    assertThat(paths.stream().mapToInt(p -> tokens.get(p).size()).sum()).isEqualTo(40);
    assertThat(paths).allSatisfy(p -> assertThat(mostAtOnce.get(p).get()).isEqualTo(1));
    assertThat(peakAcrossResources.get()).isGreaterThan(1);
  }

  @Test
  void aLockWhoseHolderDiedIsFreedWhenItsLeaseEnds() {
    LockLeases leases = new RedisLockLeases(redis, redisConfig.keyPrefix());
    assertThat(Await.result(leases.tryLease("/accounts/orphan", "a-node-that-died", Duration.ofMillis(800)))).isTrue();

    List<Integer> statuses = send(List.of("/accounts/orphan"), 1);

    assertThat(statuses).containsExactly(200);
    assertThat(tokens.get("/accounts/orphan")).hasSize(1);
  }

  private static List<Integer> send(List<String> paths, int total) {
    Promise<List<Integer>> done = Promise.promise();
    clientContext.runOnContext(v -> {
      List<Future<Integer>> answers = new ArrayList<>();
      for (int i = 0; i < total; i++) {
        String path = paths.get(i % paths.size());
        answers.add(client.request(HttpMethod.POST, path).compose(HttpClientRequest::send)
            .compose(response -> response.body().map(body -> response.statusCode())));
      }
      Future.all(answers).map(all -> answers.stream().map(Future::result).toList()).onComplete(done);
    });
    return Await.result(done.future());
  }
}
