package io.unbroken.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The validated configuration of one node. Built once by {@link ConfigLoader}; every value in it
 * has been checked, so the rest of the code never re-validates.
 */
public record UnbrokenConfig(
    Listener server,
    Admin admin,
    Optional<Redis> redis,
    Optional<Postgres> postgres,
    Node node,
    Cluster cluster,
    Demo demo,
    List<RouteConfig> routes,
    EventStore eventStore,
    Idempotency idempotency,
    List<SagaConfig> sagas) {

  public UnbrokenConfig {
    routes = List.copyOf(routes);
    sagas = List.copyOf(sagas);
  }

  /** A configuration without sagas. */
  public UnbrokenConfig(Listener server, Admin admin, Optional<Redis> redis, Optional<Postgres> postgres, Node node,
      Cluster cluster, Demo demo, List<RouteConfig> routes, EventStore eventStore, Idempotency idempotency) {
    this(server, admin, redis, postgres, node, cluster, demo, routes, eventStore, idempotency, List.of());
  }

  /** A configuration with the event store's default batching. */
  public UnbrokenConfig(Listener server, Admin admin, Optional<Redis> redis, Optional<Postgres> postgres, Node node,
      Cluster cluster, Demo demo, List<RouteConfig> routes) {
    this(server, admin, redis, postgres, node, cluster, demo, routes, EventStore.DEFAULTS);
  }

  /** A configuration with the default key filter. */
  public UnbrokenConfig(Listener server, Admin admin, Optional<Redis> redis, Optional<Postgres> postgres, Node node,
      Cluster cluster, Demo demo, List<RouteConfig> routes, EventStore eventStore) {
    this(server, admin, redis, postgres, node, cluster, demo, routes, eventStore, Idempotency.DEFAULTS);
  }

  /**
   * The node's idempotency key filter (a Bloom filter): how many live keys it is sized for and its
   * false-positive rate; and {@code writeBehind}, how long the durable answers of routes with
   * {@code events: off} gather before one commit writes them all. Claim leases use {@code node.workerLease} and
   * are renewed every {@code node.heartbeat}.
   */
  public record Idempotency(long expectedKeys, double falsePositiveRate, Duration writeBehind) {
    public static final Idempotency DEFAULTS = new Idempotency(1_000_000, 0.01, Duration.ofMillis(10));
  }

  /**
   * An HTTP listener; {@code instances} is how many gateway verticles (event loops) serve it. On a
   * graceful stop, in-flight requests have {@code drainTimeout} to finish before they are cancelled.
   */
  public record Listener(String host, int port, int instances, Duration drainTimeout, Limits limits, Optional<Tls> tls) {

    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);

    public Listener(String host, int port, int instances, Duration drainTimeout, Limits limits) {
      this(host, port, instances, drainTimeout, limits, Optional.empty());
    }

    public Listener(String host, int port, int instances, Duration drainTimeout) {
      this(host, port, instances, drainTimeout, Limits.DEFAULTS);
    }

    public Listener(String host, int port, int instances) {
      this(host, port, instances, DEFAULT_DRAIN_TIMEOUT);
    }
  }

  /**
   * What a client may send before it is refused: a request line up to {@code maxRequestLine} bytes
   * (else 414), a header section up to {@code maxHeaderSize} bytes and {@code maxHeaders} fields
   * (else 431). What bounds how long idle and slow clients hold the node's connections: a request's
   * head must arrive within {@code headTimeout}, a connection that sends and receives nothing for
   * {@code idleTimeout} is closed (zero: never), and the node holds at most {@code maxConnections}.
   */
  public record Limits(int maxRequestLine, int maxHeaderSize, int maxHeaders, Duration headTimeout,
      Duration idleTimeout, int maxConnections) {
    public static final Limits DEFAULTS = new Limits(4096, 8192, 100, Duration.ofSeconds(30), Duration.ZERO, 10_000);
  }

  /** The admin listener; without a token only the health endpoints are served. */
  public record Admin(String host, int port, Optional<String> token, Optional<Tls> tls) {

    public Admin(String host, int port, Optional<String> token) {
      this(host, port, token, Optional.empty());
    }
  }

  /**
   * A listener's certificate chain and private key, PEM files. They are read again every
   * {@code checkEvery} (zero: only on SIGHUP), and a changed pair serves new connections while
   * open ones keep theirs.
   */
  public record Tls(Path cert, Path key, Duration checkEvery) {
    public static final Duration DEFAULT_CHECK_EVERY = Duration.ofSeconds(10);
  }

  /** Redis; {@code keyPrefix} starts every key so several deployments (or test runs) can share one server. */
  public record Redis(String url, String keyPrefix) {}

  /** PostgreSQL, as {@code postgresql://user[:password]@host:port/database}. */
  public record Postgres(String url, int poolSize) {}

  /**
   * Identity and clocks of this node: the Snowflake datacenter, how far the clock may step back
   * before ids are refused, the worker-id lease and its heartbeat, and the largest clock offset
   * accepted from a peer.
   */
  public record Node(int datacenter, Duration maxClockBackward, Duration workerLease, Duration heartbeat,
      Duration maxClockOffset) {}

  /** Hazelcast clustering: this member's address and the members to join (TCP/IP, no multicast). */
  public record Cluster(boolean enabled, String host, int port, List<String> members) {}

  /** The built-in demo upstream, served on 127.0.0.1 for the embedded default. */
  public record Demo(boolean enabled, int port) {}

  /**
   * The node's event-store writer: appends that meet within {@code maxDelay} (or while a commit is in
   * flight) share a commit of at most {@code maxBatchEvents}; {@code maxInFlight} commits at once;
   * an append not answered within {@code appendTimeout} fails; at most {@code asyncBacklog} appends
   * of {@code events: async} routes may wait before new requests are shed; events older than
   * {@code retention} are dropped a month-partition at a time.
   */
  public record EventStore(int maxBatchEvents, Duration maxDelay, int maxInFlight, Duration appendTimeout,
      int asyncBacklog, Duration retention) {
    public static final EventStore DEFAULTS =
        new EventStore(256, Duration.ZERO, 2, Duration.ofSeconds(5), 10_000, Duration.ofDays(90));
  }

  /** True when neither Redis nor PostgreSQL is configured: everything lives in this process. */
  public boolean embedded() {
    return redis.isEmpty() && postgres.isEmpty();
  }
}
