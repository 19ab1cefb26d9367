package io.unbroken.testing;

import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.config.UnbrokenConfig;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Configurations for nodes started inside a test that record request lifecycles: routes with an
 * {@code events} mode, and nodes whose events go to PostgreSQL (otherwise as {@link TestNodes#embedded}).
 */
public final class RecordingNodes {

  private RecordingNodes() {}

  /** A node like {@link TestNodes#embedded} but with its durable store, and so its events, in {@code postgres}. */
  public static UnbrokenConfig onPostgres(UnbrokenConfig.Postgres postgres, List<RouteConfig> routes) {
    UnbrokenConfig config = TestNodes.embedded(routes);
    return new UnbrokenConfig(config.server(), config.admin(), config.redis(), Optional.of(postgres), config.node(),
        config.cluster(), config.demo(), config.routes(), config.eventStore());
  }

  /** A route for every method whose request lifecycle is recorded as {@code events} says; every other feature off. */
  public static RouteConfig route(String prefix, String upstream, Duration timeout, EventsMode events) {
    return new RouteConfig(prefix, URI.create(upstream), Set.of(), timeout, 1024 * 1024, events,
        IdempotencyPolicy.DISABLED);
  }
}
