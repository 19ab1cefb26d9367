package io.unbroken.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.events.EventStore;
import io.unbroken.gateway.Problem;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.platform.ListenerTls;
import io.unbroken.saga.SagaReview;
import io.unbroken.zombie.ClusterInflight;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;
import io.vertx.micrometer.PrometheusScrapingHandler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The operator's listener, apart from client traffic: {@code /health/live} and
 * {@code /health/ready} for probes (always open), and everything else behind the admin bearer
 * token when one is configured.
 */
public final class AdminVerticle extends VerticleBase {

  private static final long CHECK_TIMEOUT_MS = 2_000;
  // A probe gives up before the handler does: a store that hangs then reads as DOWN with a reason
  // (503), not as a check that broke (500 without a reason).
  private static final long PROBE_TIMEOUT_MS = 1_500;

  private final UnbrokenConfig.Admin config;
  private final PrometheusMeterRegistry registry;
  private final List<ReadinessCheck> checks;
  private final EventStore eventStore;
  private final ClusterInflight inflight;
  private final Idempotency idempotency;
  private final SagaReview sagas;
  private HttpServer server;
  private ListenerTls tls; // null on a plain listener

  public AdminVerticle(UnbrokenConfig.Admin config, PrometheusMeterRegistry registry, List<ReadinessCheck> checks,
      EventStore eventStore, ClusterInflight inflight, Idempotency idempotency, SagaReview sagas) {
    this.config = config;
    this.registry = registry;
    this.checks = checks;
    this.eventStore = eventStore;
    this.inflight = inflight;
    this.idempotency = idempotency;
    this.sagas = sagas;
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    router.get("/health/live").handler(liveness());
    router.get("/health/ready").handler(readiness());
    router.route().handler(this::requireToken);
    router.get("/metrics").handler(PrometheusScrapingHandler.create(registry));
    new StreamsApi(eventStore).mount(router);
    new InflightApi(inflight, eventStore).mount(router);
    new HeldKeysApi(eventStore, idempotency).mount(router);
    new SagasApi(sagas).mount(router);
    router.route().last().handler(ctx -> Problem.of("not-found", "Not found", 404,
        "No admin endpoint at " + ctx.request().path(), null).send(ctx.response()));
    if (config.tls().isEmpty()) {
      server = vertx.createHttpServer().requestHandler(router);
      return server.listen(config.port(), config.host());
    }
    return ListenerTls.read(vertx, config.tls().get(), "admin.tls", false).compose(read -> {
      tls = read;
      server = vertx.createHttpServer(tls.secure(new HttpServerOptions())).requestHandler(router);
      return tls.listen(server, config.port(), config.host());
    });
  }

  @Override
  public Future<?> stop() {
    return Future.all(server.close(), tls == null ? Future.succeededFuture() : tls.stop());
  }

  /**
   * Alive while this verticle's event loop still runs a check. A handler with no check at all
   * answers 204 without a body; a probe or an operator reading it expects 200 and a status.
   */
  private HealthCheckHandler liveness() {
    return HealthCheckHandler.create(vertx).register("event-loop", promise -> promise.complete(Status.OK()));
  }

  private HealthCheckHandler readiness() {
    HealthCheckHandler handler = HealthCheckHandler.create(vertx);
    for (ReadinessCheck check : checks) {
      handler.register(check.name(), CHECK_TIMEOUT_MS, promise -> check.probe().get()
          .timeout(PROBE_TIMEOUT_MS, TimeUnit.MILLISECONDS)
          .onSuccess(ok -> promise.complete(ok instanceof JsonObject shown ? Status.OK(shown) : Status.OK()))
          .onFailure(failure -> {
            JsonObject reason = new JsonObject().put("reason", String.valueOf(failure.getMessage()));
            promise.complete(check.required() ? Status.KO(reason) : Status.OK(reason.put("degraded", true)));
          }));
    }
    return handler;
  }

  private void requireToken(RoutingContext ctx) {
    if (config.token().isEmpty() || tokenMatches(ctx.request().getHeader("Authorization"))) {
      ctx.next();
      return;
    }
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"unbroken-admin\"");
    Problem.of("unauthorized", "Admin token required", 401,
        "Send the admin token as 'Authorization: Bearer <token>'", null).send(ctx.response());
  }

  private boolean tokenMatches(String authorization) {
    if (authorization == null || !authorization.startsWith("Bearer ")) {
      return false;
    }
    byte[] presented = authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    // Constant-time comparison so response timing does not reveal how much of a guess was right.
    return MessageDigest.isEqual(presented, config.token().get().getBytes(StandardCharsets.UTF_8));
  }
}
