package io.unbroken.testing;

import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.UnbrokenConfig;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Configurations for nodes started inside a test, on free ports. */
public final class TestNodes {

  private TestNodes() {}

  /** An embedded node (no Redis, no PostgreSQL, no demo) serving {@code routes}. */
  public static UnbrokenConfig embedded(List<RouteConfig> routes) {
    return withStores(Optional.empty(), Optional.empty(), Optional.empty(), routes);
  }

  /**
   * A node (no demo) on the given Redis and PostgreSQL, each embedded when absent, with its admin
   * API behind {@code adminToken} when one is given, serving {@code routes}.
   */
  public static UnbrokenConfig withStores(Optional<UnbrokenConfig.Redis> redis,
      Optional<UnbrokenConfig.Postgres> postgres, Optional<String> adminToken, List<RouteConfig> routes) {
    return new UnbrokenConfig(
        new UnbrokenConfig.Listener("127.0.0.1", FreePorts.next(), 2),
        new UnbrokenConfig.Admin("127.0.0.1", FreePorts.next(), adminToken),
        redis, postgres,
        new UnbrokenConfig.Node(0, Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(2),
            Duration.ofMillis(500)),
        new UnbrokenConfig.Cluster(false, "127.0.0.1", 5701, List.of("127.0.0.1")),
        new UnbrokenConfig.Demo(false, 0),
        routes);
  }

  /** A node whose durable store, and so its events, is {@code postgres}; Redis embedded. */
  public static UnbrokenConfig onPostgres(UnbrokenConfig.Postgres postgres, List<RouteConfig> routes) {
    return withStores(Optional.empty(), Optional.of(postgres), Optional.empty(), routes);
  }

  /**
   * {@code config} with appends gathered for 200 ms before each commit: long enough that an answer
   * sent without waiting for its commit reaches a test well ahead of it, even on a cold JVM.
   */
  public static UnbrokenConfig withCommitWindow(UnbrokenConfig config) {
    UnbrokenConfig.EventStore store = config.eventStore();
    return new UnbrokenConfig(config.server(), config.admin(), config.redis(), config.postgres(), config.node(),
        config.cluster(), config.demo(), config.routes(), new UnbrokenConfig.EventStore(store.maxBatchEvents(),
            Duration.ofMillis(200), store.maxInFlight(), store.appendTimeout(), store.asyncBacklog(), store.retention()),
        config.idempotency());
  }

  /** A route for every method whose request lifecycle is recorded as {@code events} says; every other feature off. */
  public static RouteConfig route(String prefix, String upstream, Duration timeout, RouteConfig.EventsMode events) {
    return new RouteConfig(prefix, URI.create(upstream), Set.of(), timeout, 1024 * 1024, events,
        IdempotencyPolicy.DISABLED);
  }

  /** A route for every method with this idempotency policy, its lifecycle recorded as {@code events} says. */
  public static RouteConfig idempotentRoute(String prefix, String upstream, Duration timeout,
      RouteConfig.EventsMode events, IdempotencyPolicy policy) {
    return new RouteConfig(prefix, URI.create(upstream), Set.of(), timeout, 1024 * 1024, events, policy);
  }

  /** A route with every feature off. */
  public static RouteConfig route(String prefix, String upstream, Duration timeout, long maxBody, String... methods) {
    return new RouteConfig(prefix, URI.create(upstream), Set.of(methods), timeout, maxBody,
        RouteConfig.EventsMode.OFF, IdempotencyPolicy.DISABLED);
  }
}
