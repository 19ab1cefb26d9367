package io.unbroken;

import com.google.common.base.Ticker;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.unbroken.admin.AdminVerticle;
import io.unbroken.admin.ReadinessCheck;
import io.unbroken.cluster.HazelcastClusterManagers;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.embedded.DemoUpstreamVerticle;
import io.unbroken.embedded.EmbeddedEventStorage;
import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.unbroken.embedded.EmbeddedLocks;
import io.unbroken.embedded.EmbeddedOrphanedRequests;
import io.unbroken.embedded.EmbeddedSagaStore;
import io.unbroken.embedded.EmbeddedStatusMonitors;
import io.unbroken.embedded.EmbeddedWorkerLeaseStore;
import io.unbroken.events.EventStorage;
import io.unbroken.events.EventStore;
import io.unbroken.events.EventStoreClient;
import io.unbroken.events.EventStoreVerticle;
import io.unbroken.events.Stamps;
import io.unbroken.events.pg.PgEventStorage;
import io.unbroken.gateway.ConnectionGate;
import io.unbroken.gateway.GatewayMetrics;
import io.unbroken.gateway.GatewayVerticle;
import io.unbroken.gateway.RequestJournal;
import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.DurableAnswers;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.idempotency.IdempotencyMetrics;
import io.unbroken.idempotency.IdempotencyVerticle;
import io.unbroken.idempotency.KeyFilter;
import io.unbroken.idempotency.pg.PgIdempotencyRecords;
import io.unbroken.idempotency.redis.RedisClaimStore;
import io.unbroken.ids.ClockOffsetVerticle;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.ids.StoreClock;
import io.unbroken.ids.WorkerLeaseStore;
import io.unbroken.ids.WorkerLeaseVerticle;
import io.unbroken.ids.pg.PgStoreClock;
import io.unbroken.ids.pg.PgWorkerLeaseStore;
import io.unbroken.ids.redis.RedisStoreClock;
import io.unbroken.ids.redis.RedisWorkerLeaseStore;
import io.unbroken.locks.FencingTokens;
import io.unbroken.locks.LockLeases;
import io.unbroken.locks.ResourceLocks;
import io.unbroken.locks.pg.PgFencingTokens;
import io.unbroken.locks.redis.RedisFencingTokens;
import io.unbroken.locks.redis.RedisLockLeases;
import io.unbroken.platform.ListenerTls;
import io.unbroken.platform.Migrations;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.platform.RedisConnector;
import io.unbroken.platform.StartupFailure;
import io.unbroken.saga.SagaClient;
import io.unbroken.saga.SagaCoordinator;
import io.unbroken.saga.SagaMetrics;
import io.unbroken.saga.SagaReview;
import io.unbroken.saga.SagaStore;
import io.unbroken.saga.pg.PgSagaStore;
import io.unbroken.zombie.ClusterInflight;
import io.unbroken.zombie.InflightRegistry;
import io.unbroken.zombie.OrphanedRequests;
import io.unbroken.zombie.Reaper;
import io.unbroken.zombie.StatusMonitors;
import io.unbroken.zombie.ZombieVerticle;
import io.unbroken.zombie.pg.PgOrphanedRequests;
import io.unbroken.zombie.pg.PgStatusMonitors;
import io.unbroken.zombie.redis.RedisStatusMonitors;
import io.vertx.core.Deployable;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.redis.client.Redis;
import io.vertx.sqlclient.Pool;
import java.net.BindException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds one node's Vert.x, stores and verticles from its configuration
 * and wires them together. The only place that chooses Redis/PostgreSQL or embedded implementations.
 */
public final class UnbrokenNode {

  private static final Logger log = LoggerFactory.getLogger(UnbrokenNode.class);
  // A live node answers what it has in flight from memory; one that takes longer is named unreachable.
  private static final Duration INFLIGHT_ASK_TIMEOUT = Duration.ofSeconds(2);

  private final Vertx vertx;
  private final String nodeId;
  private final Optional<Redis> redis;
  private final Optional<Pool> postgres;
  private final List<String> deployments = new ArrayList<>();
  private volatile boolean draining;
  private String gatewayDeployment;
  private EventStore eventStore;

  private UnbrokenNode(Vertx vertx, String nodeId, Optional<Redis> redis, Optional<Pool> postgres) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.redis = redis;
    this.postgres = postgres;
  }

  /**
   * Starts a node. Migrations run first (the one blocking step, before any verticle); the future
   * fails with a {@link StartupFailure} naming the key or address when a store is unreachable or
   * a port is taken.
   */
  public static Future<UnbrokenNode> start(UnbrokenConfig config) {
    config.postgres().ifPresent(Migrations::apply);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    VertxBuilder builder = Vertx.builder()
        .with(new VertxOptions().setPreferNativeTransport(true).setMetricsOptions(metricsOptions()))
        .withMetrics(new MicrometerMetricsFactory(registry));
    Future<Vertx> vertx = config.cluster().enabled()
        ? builder.withClusterManager(HazelcastClusterManagers.create(config.cluster())).buildClustered()
        : Future.succeededFuture(builder.build());
    return vertx.compose(v -> wire(v, config, registry));
  }

  public String nodeId() {
    return nodeId;
  }

  public Vertx vertx() {
    return vertx;
  }

  public EventStore eventStore() {
    return eventStore;
  }

  /** Has every TLS listener of this node read its certificate files again now, as SIGHUP asks. */
  public void reloadCertificates() {
    vertx.eventBus().publish(ListenerTls.RELOAD_ADDRESS, null, new DeliveryOptions().setLocalOnly(true));
  }

  /**
   * Stops gracefully: reports not ready, drains the client listener (see {@link GatewayVerticle#stop}),
   * then undeploys the rest in reverse order (the admin listener first, the worker lease, and with
   * it this node's liveness, last), closes the clients and leaves the cluster.
   */
  public Future<Void> close() {
    draining = true;
    Future<Void> undeployed = Future.<Void>succeededFuture()
        .compose(v -> gatewayDeployment == null ? Future.succeededFuture() : vertx.undeploy(gatewayDeployment));
    for (int i = deployments.size() - 1; i >= 0; i--) {
      String deploymentId = deployments.get(i);
      if (!deploymentId.equals(gatewayDeployment)) {
        undeployed = undeployed.eventually(() -> vertx.undeploy(deploymentId));
      }
    }
    Promise<Void> closed = Promise.promise();
    undeployed
        .eventually(() -> redis.map(Redis::close).orElse(Future.succeededFuture()))
        .eventually(() -> postgres.map(Pool::close).orElse(Future.succeededFuture()))
        // Closed from a thread of its own: a close begun on an event loop reports back to that
        // loop, which has stopped by then, and its future would never complete.
        .onComplete(done -> new Thread(() -> vertx.close().onComplete(closed), "unbroken-close").start());
    return closed.future();
  }

  private static Future<UnbrokenNode> wire(Vertx vertx, UnbrokenConfig config, PrometheusMeterRegistry registry) {
    String nodeId = UUID.randomUUID().toString();
    InstantSource clock = InstantSource.system();
    Optional<Redis> redis = config.redis().map(r -> RedisConnector.create(vertx, r));
    Optional<Pool> postgres = config.postgres().map(p -> PostgresConnector.create(vertx, p));
    UnbrokenNode node = new UnbrokenNode(vertx, nodeId, redis, postgres);

    UnbrokenConfig.Node identity = config.node();
    SnowflakeIds ids = new SnowflakeIds(clock, identity.datacenter(), identity.maxClockBackward().toMillis());
    // In PostgreSQL when there is one: a Redis outage then leaves ids (and PostgreSQL claims) running.
    EmbeddedWorkerLeaseStore inProcessLeases = new EmbeddedWorkerLeaseStore(clock);
    WorkerLeaseStore leases = postgres.<WorkerLeaseStore>map(PgWorkerLeaseStore::new)
        .or(() -> redis.map(r -> new RedisWorkerLeaseStore(r, config.redis().get().keyPrefix())))
        .orElse(inProcessLeases);
    GatewayMetrics metrics = new GatewayMetrics(registry);
    HybridLogicalClock hlc = new HybridLogicalClock(clock, identity.maxClockOffset().toMillis());
    FunctionCounter.builder("unbroken.hlc.peers.ignored", hlc, HybridLogicalClock::rejectedPeers)
        .description("Hybrid clock values from peers further ahead than node.maxClockOffset, not followed")
        .register(registry);
    Stamps stamps = new Stamps(ids, hlc);
    EmbeddedEventStorage inProcessEvents = new EmbeddedEventStorage(stamps, clock);
    EventStorage storage = postgres.<EventStorage>map(p -> new PgEventStorage(p, stamps)).orElse(inProcessEvents);
    UnbrokenConfig.EventStore writer = config.eventStore();
    EventStoreClient.registerCodecs(vertx);
    node.eventStore = new EventStoreClient(vertx, storage, writer.appendTimeout());
    RequestJournal journal = new RequestJournal(node.eventStore, nodeId, writer.asyncBacklog(), registry);
    EmbeddedLocks embeddedLocks = new EmbeddedLocks(clock);
    LockLeases lockLeases = redis.<LockLeases>map(r -> new RedisLockLeases(r, config.redis().get().keyPrefix()))
        .orElse(embeddedLocks);
    FencingTokens fencingTokens = postgres.<FencingTokens>map(PgFencingTokens::new)
        .or(() -> redis.map(r -> new RedisFencingTokens(r, config.redis().get().keyPrefix())))
        .orElse(embeddedLocks);
    ResourceLocks locks = new ResourceLocks(vertx, lockLeases, fencingTokens);
    IdempotencyMetrics idempotencyMetrics = new IdempotencyMetrics(registry);
    Idempotency idempotency = idempotency(vertx, config, redis, postgres, idempotencyMetrics, clock, hlc);
    InflightRegistry inflight = new InflightRegistry();
    ClusterInflight clusterInflight = new ClusterInflight(vertx, () -> leases.liveOwners(identity.datacenter()),
        INFLIGHT_ASK_TIMEOUT);
    StatusMonitors monitors = postgres.<StatusMonitors>map(PgStatusMonitors::new)
        .or(() -> redis.map(r -> new RedisStatusMonitors(r, config.redis().get().keyPrefix())))
        .orElseGet(() -> new EmbeddedStatusMonitors(clock));
    // Sagas keep their rows beside their events: in PostgreSQL, or in the in-process event store.
    SagaStore sagaStore = postgres.<SagaStore>map(PgSagaStore::new)
        .orElseGet(() -> new EmbeddedSagaStore(inProcessEvents, clock));
    SagaReview sagaReview = new SagaReview(vertx, node.eventStore, sagaStore, config.sagas());
    GatewayVerticle.Collaborators gateway = new GatewayVerticle.Collaborators(ids, metrics, journal, locks, idempotency,
        idempotencyMetrics, inflight, nodeId, monitors, clusterInflight, new SagaClient(vertx, node.eventStore, config.sagas()),
        new ConnectionGate(config.server().limits().maxConnections(), registry));
    // In-flight rows outlive their node only in PostgreSQL; in process they die with it, and with
    // events in process but leases in Redis there is nothing a reaper could find.
    Optional<OrphanedRequests> orphans = postgres.<OrphanedRequests>map(PgOrphanedRequests::new)
        .or(() -> Optional.ofNullable(leases == inProcessLeases
            ? new EmbeddedOrphanedRequests(inProcessEvents, inProcessLeases, clock) : null));
    Optional<Reaper> reaper = orphans.map(o -> new Reaper(o, node.eventStore, idempotency, locks, config.routes(),
        nodeId, identity.workerLease(), registry));

    List<ReadinessCheck> checks = new ArrayList<>();
    checks.add(new ReadinessCheck("draining", () -> node.draining
        ? Future.failedFuture("this node is stopping: it finishes its requests and takes no new ones")
        : Future.succeededFuture()));
    checks.add(new ReadinessCheck("worker-id", () -> ids.unavailableReason() == null
        ? Future.succeededFuture() : Future.failedFuture(ids.unavailableReason())));
    // With PostgreSQL to claim keys in, a Redis outage degrades the node but leaves it serving.
    redis.ifPresent(r -> checks.add(new ReadinessCheck("redis", () -> RedisConnector.ping(r)
        .compose(alive -> idempotency.degraded().<Future<Void>>map(Future::failedFuture).orElse(Future.succeededFuture())),
        postgres.isEmpty())));
    postgres.ifPresent(p -> checks.add(new ReadinessCheck("postgres", () -> PostgresConnector.selectOne(p))));
    List<StoreClock> storeClocks = new ArrayList<>();
    redis.ifPresent(r -> storeClocks.add(new RedisStoreClock(r)));
    postgres.ifPresent(p -> storeClocks.add(new PgStoreClock(p)));
    ClockOffsetVerticle clockOffsets = new ClockOffsetVerticle(storeClocks, clock, identity.maxClockOffset(),
        identity.heartbeat(), registry);
    if (!storeClocks.isEmpty()) {
      checks.add(new ReadinessCheck("clock", clockOffsets::check));
    }

    Future<Void> reachable = Future.all(
            redis.map(r -> RedisConnector.checkReachable(r, config.redis().get())).orElse(Future.succeededFuture()),
            postgres.map(PostgresConnector::selectOne).orElse(Future.succeededFuture()))
        .mapEmpty();
    return reachable
        .compose(v -> node.deploy(() -> new WorkerLeaseVerticle(leases, ids, clock, identity.datacenter(), nodeId,
            identity.workerLease(), identity.heartbeat()), 1, "node.datacenter", "", 0))
        .compose(v -> storeClocks.isEmpty() ? Future.succeededFuture()
            : node.deploy(() -> clockOffsets, 1, "node.heartbeat", "", 0))
        .compose(v -> node.deploy(() -> new EventStoreVerticle(storage, new EventStoreVerticle.Batching(
            writer.maxBatchEvents(), writer.maxDelay(), writer.maxInFlight(), writer.retention()), registry),
            1, "eventStore", "", 0))
        .compose(v -> config.demo().enabled()
            ? node.deploy(() -> new DemoUpstreamVerticle(config.demo().port()), 1, "demo.port", "127.0.0.1",
                config.demo().port())
            : Future.succeededFuture())
        .compose(v -> node.deploy(() -> new IdempotencyVerticle(idempotency, identity.heartbeat(),
            () -> redis.map(RedisConnector::ping).orElse(Future.succeededFuture())), 1, "idempotency", "", 0))
        .compose(v -> node.deploy(() -> new ZombieVerticle(inflight, nodeId, reaper, monitors, identity.heartbeat()), 1,
            "node.heartbeat", "", 0))
        .compose(v -> config.sagas().isEmpty() ? Future.succeededFuture()
            : node.deploy(() -> new SagaCoordinator(config.sagas(), node.eventStore, sagaStore, nodeId,
                identity.workerLease(), identity.heartbeat(), new SagaMetrics(registry), clock), 1, "sagas", "", 0))
        .compose(v -> node.deploy(() -> new GatewayVerticle(config.server(), config.routes(), gateway),
            config.server().instances(), "server.port", config.server().host(), config.server().port()))
        .onSuccess(id -> node.gatewayDeployment = id)
        .compose(v -> node.deploy(() -> new AdminVerticle(config.admin(), registry, checks, node.eventStore,
            clusterInflight, idempotency, sagaReview), 1, "admin.port", config.admin().host(), config.admin().port()))
        .map(v -> node)
        .onSuccess(started -> announce(config, nodeId, vertx))
        .recover(failure -> node.close().transform(closed -> Future.failedFuture(failure)));
  }

  /**
   * Claims in Redis with PostgreSQL as the durable record and the fallback; Redis alone; PostgreSQL
   * alone; or in process.
   */
  private static Idempotency idempotency(Vertx vertx, UnbrokenConfig config, Optional<Redis> redis,
      Optional<Pool> postgres, IdempotencyMetrics metrics, InstantSource clock, HybridLogicalClock hlc) {
    Optional<PgIdempotencyRecords> records = postgres.map(PgIdempotencyRecords::new);
    EmbeddedIdempotencyRecords inProcess = new EmbeddedIdempotencyRecords(clock);
    ClaimStore primary = redis.<ClaimStore>map(r -> new RedisClaimStore(r, config.redis().get().keyPrefix()))
        .or(() -> records.map(ClaimStore.class::cast))
        .orElse(inProcess);
    Optional<ClaimStore> fallback = redis.isPresent() ? records.map(ClaimStore.class::cast) : Optional.empty();
    Optional<DurableAnswers> durable = records.<DurableAnswers>map(DurableAnswers.class::cast)
        .or(() -> redis.isPresent() ? Optional.empty() : Optional.of(inProcess));
    UnbrokenConfig.Idempotency settings = config.idempotency();
    return new Idempotency(vertx, primary, fallback, durable,
        new KeyFilter(settings.expectedKeys(), settings.falsePositiveRate()), metrics, Ticker.systemTicker(), hlc,
        config.node().workerLease(), settings.writeBehind());
  }

  private Future<String> deploy(Supplier<Deployable> verticle, int instances, String key, String host, int port) {
    return vertx.deployVerticle(verticle, new DeploymentOptions().setInstances(instances))
        .onSuccess(deployments::add)
        .recover(failure -> Future.failedFuture(startupFailure(failure, key, host, port)));
  }

  private static Throwable startupFailure(Throwable failure, String key, String host, int port) {
    if (failure instanceof BindException || isBindFailure(failure)) {
      return new StartupFailure(key + ": cannot listen on " + host + ":" + port + ": " + failure.getMessage());
    }
    if (failure instanceof WorkerLeaseStore.NoWorkerIdAvailable) {
      return new StartupFailure(key + ": " + failure.getMessage());
    }
    return failure;
  }

  private static boolean isBindFailure(Throwable failure) {
    String message = String.valueOf(failure.getMessage());
    return message.contains("Address already in use") || message.contains("bind(..) failed");
  }

  private static MicrometerMetricsOptions metricsOptions() {
    // The gateway and the event store record their own meters; Vert.x's per-request HTTP, TCP and
    // event-bus meters would double that cost on the hot path.
    return new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true)
        .addDisabledMetricsCategory(MetricsDomain.HTTP_SERVER)
        .addDisabledMetricsCategory(MetricsDomain.HTTP_CLIENT)
        .addDisabledMetricsCategory(MetricsDomain.NET_SERVER)
        .addDisabledMetricsCategory(MetricsDomain.NET_CLIENT)
        .addDisabledMetricsCategory(MetricsDomain.EVENT_BUS);
  }

  private static void announce(UnbrokenConfig config, String nodeId, Vertx vertx) {
    if (!vertx.isNativeTransportEnabled()) {
      log.info("Native transport unavailable ({}); using NIO", vertx.unavailableNativeTransportCause());
    }
    if (config.embedded()) {
      log.warn("Embedded mode: idempotency records, events and leases live in this process only; "
          + "nothing survives a restart. Configure redis: and postgres: for production.");
    }
    if (config.admin().token().isEmpty()) {
      log.warn("No admin token (admin.token / UNBROKEN_ADMIN_TOKEN): /metrics and the admin API are open to anyone "
          + "who reaches {}:{}", config.admin().host(), config.admin().port());
    }
    if (config.demo().enabled()) {
      log.info("Demo upstream on http://127.0.0.1:{}/ - try: curl -i http://127.0.0.1:{}/demo",
          config.demo().port(), config.server().port());
    }
    log.info("Unbroken node {} serving on {}:{} (admin {}:{}), {} route(s)", nodeId, config.server().host(),
        config.server().port(), config.admin().host(), config.admin().port(), config.routes().size());
  }
}
