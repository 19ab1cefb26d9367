package io.unbroken.config;

import com.google.common.net.InetAddresses;
import io.unbroken.config.IdempotencyPolicy.Inflight;
import io.unbroken.config.IdempotencyPolicy.Mode;
import io.unbroken.config.IdempotencyPolicy.Unknown;
import io.unbroken.config.RouteConfig.EventsMode;
import io.unbroken.locks.LockTemplate;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Builds the one {@link UnbrokenConfig} of a node from, in rising precedence, built-in defaults,
 * the YAML file, {@code UNBROKEN_*} environment variables and command-line overrides.
 */
public final class ConfigLoader {

  /** Keys that environment variables and {@code --set} may override (the routes come from the file). */
  public static final List<String> OVERRIDABLE = List.of(
      "server.host", "server.port", "server.instances", "server.drainTimeout",
      "admin.host", "admin.port", "admin.token", "admin.insecure",
      "redis.url", "redis.keyPrefix",
      "postgres.url", "postgres.poolSize",
      "node.datacenter", "node.maxClockBackward", "node.workerLease", "node.heartbeat", "node.maxClockOffset",
      "cluster.enabled", "cluster.host", "cluster.port",
      "demo.enabled", "demo.port");

  static final Set<String> METHODS =
      Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT");
  private static final Duration MAX_ROUTE_TIMEOUT = Duration.ofHours(24);
  /** Where status monitors of asynchronous requests are served, on the client listener. */
  public static final String MONITORS = "/unbroken/monitors";
  /** Where clients follow sagas that outlived their wait, on the client listener. */
  public static final String SAGA_MONITORS = "/unbroken/sagas";
  // Kubernetes' terminationGracePeriodSeconds must cover it; past a few minutes a rollout stalls.
  private static final Duration MAX_DRAIN_TIMEOUT = Duration.ofMinutes(10);
  // Durable answers written later than this leave too long a time in which a Redis loss runs a request again.
  private static final Duration MAX_WRITE_BEHIND = Duration.ofSeconds(1);
  private static final Pattern PRINCIPAL = Pattern.compile("none|authorization|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+");
  // The demo route replays what a request with an Idempotency-Key got, and forwards the others.
  private static final IdempotencyPolicy DEMO_IDEMPOTENCY =
      new IdempotencyPolicy(Mode.OPTIONAL, Duration.ofHours(24), Inflight.REJECT, "header:X-Api-Key");
  private static final Pattern HEADER_NAME = Pattern.compile("[A-Za-z0-9!#$%&'*+.^_`|~-]+");

  private final Function<String, String> environment;

  public ConfigLoader(Function<String, String> environment) {
    this.environment = environment;
  }

  /** The environment variable that overrides a key: {@code redis.keyPrefix} is {@code UNBROKEN_REDIS_KEY_PREFIX}. */
  public static String environmentName(String key) {
    return "UNBROKEN_" + key.replaceAll("([a-z])([A-Z])", "$1_$2").replace('.', '_').toUpperCase(Locale.ROOT);
  }

  /**
   * @param file the YAML file, or empty for the embedded default with the demo upstream
   * @param overrides command-line values by key, each one of {@link #OVERRIDABLE}
   * @throws ConfigException naming the origin, key and problem of the first bad value
   */
  public UnbrokenConfig load(Optional<Path> file, Map<String, String> overrides) {
    ConfigNode.Mapping root = file
        .map(path -> new YamlSource(path.toString(), environment).read(path))
        .orElseGet(() -> ConfigNode.Mapping.empty("built-in defaults"));
    for (String key : OVERRIDABLE) {
      String name = environmentName(key);
      String value = environment.apply(name);
      if (value != null) {
        root.put(key, new ConfigNode.Scalar(value, "environment " + name));
      }
    }
    for (var entry : overrides.entrySet()) {
      if (!OVERRIDABLE.contains(entry.getKey())) {
        throw new ConfigException("command line", entry.getKey(),
            "cannot be set from the command line (settable: " + String.join(", ", OVERRIDABLE) + ")");
      }
      root.put(entry.getKey(), new ConfigNode.Scalar(entry.getValue(), "command line"));
    }
    return bind(new Section("", root), file.isEmpty());
  }

  private UnbrokenConfig bind(Section root, boolean embeddedDefault) {
    UnbrokenConfig.Listener server = listener(root);
    UnbrokenConfig.Admin admin = admin(root, server);
    Optional<UnbrokenConfig.Redis> redis = root.section("redis").map(this::redis);
    Optional<UnbrokenConfig.Postgres> postgres = root.section("postgres").map(this::postgres);
    UnbrokenConfig.Node node = node(root);
    UnbrokenConfig.Cluster cluster = cluster(root);
    UnbrokenConfig.Demo demo = demo(root, embeddedDefault, server, admin);
    UnbrokenConfig.EventStore eventStore = eventStore(root);
    UnbrokenConfig.Idempotency idempotency = idempotency(root);
    root.has("routes"); // marks routes: as known; it is read below, after the unknown-key check
    root.has("sagas");
    root.rejectUnknownKeys(); // before "routes: missing", so a misspelt routes: is named as what it is
    List<RouteConfig> routes = routes(root, demo);
    List<SagaConfig> sagas = root.has("sagas") ? new SagaConfigs(root).read()
        : demo.enabled() && embeddedDefault ? List.of(SagaConfigs.demo(demo.port())) : List.of();
    checkIdleTimeout(root, server, routes, sagas);
    return new UnbrokenConfig(server, admin, redis, postgres, node, cluster, demo, routes, eventStore, idempotency,
        sagas);
  }

  private UnbrokenConfig.Listener listener(Section root) {
    Section s = root.section("server").orElseGet(() -> emptySection("server"));
    int cores = Runtime.getRuntime().availableProcessors();
    var listener = new UnbrokenConfig.Listener(
        s.string("host", "0.0.0.0"), s.port("port", 8080), s.integer("instances", cores, 1, 256),
        s.duration("drainTimeout", UnbrokenConfig.Listener.DEFAULT_DRAIN_TIMEOUT),
        limits(s.section("limits").orElseGet(() -> emptySection("server.limits")),
            s.integer("maxConnections", UnbrokenConfig.Limits.DEFAULTS.maxConnections(), 1, 1_000_000)),
        s.section("tls").map(ConfigLoader::tls));
    s.rejectUnknownKeys();
    if (listener.drainTimeout().compareTo(MAX_DRAIN_TIMEOUT) > 0) {
      throw s.invalid("drainTimeout", listener.drainTimeout().toSeconds() + "s is more than the "
          + MAX_DRAIN_TIMEOUT.toMinutes() + " minutes a stopping node may take");
    }
    return listener;
  }

  private static UnbrokenConfig.Limits limits(Section s, int maxConnections) {
    UnbrokenConfig.Limits defaults = UnbrokenConfig.Limits.DEFAULTS;
    var limits = new UnbrokenConfig.Limits(s.integer("maxRequestLine", defaults.maxRequestLine(), 256, 65_536),
        s.integer("maxHeaderSize", defaults.maxHeaderSize(), 1024, 1_048_576),
        s.integer("maxHeaders", defaults.maxHeaders(), 8, 10_000), s.duration("headTimeout", defaults.headTimeout()),
        s.duration("idleTimeout", defaults.idleTimeout()), maxConnections);
    s.rejectUnknownKeys();
    return limits;
  }

  /** An idle timeout shorter than a route's or saga's timeout would close connections whose answer is still coming. */
  private static void checkIdleTimeout(Section root, UnbrokenConfig.Listener server, List<RouteConfig> routes,
      List<SagaConfig> sagas) {
    Duration idle = server.limits().idleTimeout();
    Map<String, Duration> waits = new LinkedHashMap<>();
    routes.forEach(route -> waits.put("route " + route.prefix(), route.timeout()));
    sagas.forEach(saga -> waits.put("saga " + saga.name(), saga.timeout()));
    for (var wait : waits.entrySet()) {
      if (!idle.isZero() && idle.compareTo(wait.getValue()) <= 0) {
        throw new ConfigException(root.originOf("server.limits.idleTimeout"), "server.limits.idleTimeout",
            idle.toMillis() + "ms must be longer than every route's and saga's timeout; " + wait.getKey() + " waits "
                + wait.getValue().toMillis() + "ms for its answer, while its client's connection is idle");
      }
    }
  }

  private UnbrokenConfig.Admin admin(Section root, UnbrokenConfig.Listener server) {
    Section s = root.section("admin").orElseGet(() -> emptySection("admin"));
    var admin = new UnbrokenConfig.Admin(s.string("host", "127.0.0.1"), s.port("port", 9090), s.optionalString("token"),
        s.section("tls").map(ConfigLoader::tls));
    boolean insecure = s.bool("insecure", false);
    s.rejectUnknownKeys();
    if (!loopback(admin.host()) && admin.token().isEmpty() && !insecure) {
      // Request timelines, cancels, review actions and metrics: not for anyone who can reach the port.
      throw s.invalid("host", "'" + admin.host() + "' lets other machines reach the admin API, which has no token:"
          + " set admin.token (or UNBROKEN_ADMIN_TOKEN), or admin.insecure: true to serve it open on purpose");
    }
    if (server.port() != 0 && server.port() == admin.port()) {
      throw s.invalid("port",
          "is " + admin.port() + ", the same as server.port; the two listeners need different ports");
    }
    return admin;
  }

  private static UnbrokenConfig.Tls tls(Section s) {
    var tls = new UnbrokenConfig.Tls(requiredFile(s, "cert", "the PEM certificate chain this listener presents"),
        requiredFile(s, "key", "the PEM private key of that certificate"),
        s.duration("checkEvery", UnbrokenConfig.Tls.DEFAULT_CHECK_EVERY));
    s.rejectUnknownKeys();
    return tls;
  }

  private static Path requiredFile(Section s, String name, String meaning) {
    return s.readableFile(name).orElseThrow(() -> s.invalid(name, "missing: " + meaning));
  }

  private static UpstreamTls upstreamTls(Section s) {
    var tls = new UpstreamTls(s.readableFile("ca"), s.optionalString("serverName"), s.readableFile("cert"),
        s.readableFile("key"));
    s.rejectUnknownKeys();
    if (tls.cert().isPresent() != tls.key().isPresent()) {
      throw s.invalid(tls.cert().isPresent() ? "cert" : "key",
          "a client certificate needs both cert and key (the key's PEM file and its certificate chain)");
    }
    return tls;
  }

  /** A literal loopback address or {@code localhost}; a name that might resolve elsewhere is not. */
  private static boolean loopback(String host) {
    return host.equalsIgnoreCase("localhost")
        || InetAddresses.isInetAddress(host) && InetAddresses.forString(host).isLoopbackAddress();
  }

  private UnbrokenConfig.Redis redis(Section s) {
    URI url = s.url("url", "the Redis URL, e.g. redis://127.0.0.1:6379", List.of("redis", "rediss"));
    var redis = new UnbrokenConfig.Redis(url.toString(), s.string("keyPrefix", "unbroken"));
    s.rejectUnknownKeys();
    return redis;
  }

  private UnbrokenConfig.Postgres postgres(Section s) {
    URI url = s.url("url", "the PostgreSQL URL, e.g. postgresql://postgres@127.0.0.1:5432/unbroken",
        List.of("postgresql", "postgres"));
    if (url.getPath() == null || url.getPath().length() <= 1) {
      throw s.invalid("url", "'" + url + "' names no database (add /dbname)");
    }
    var postgres = new UnbrokenConfig.Postgres(url.toString(), s.integer("poolSize", 8, 1, 1000));
    s.rejectUnknownKeys();
    return postgres;
  }

  private UnbrokenConfig.Node node(Section root) {
    Section s = root.section("node").orElseGet(() -> emptySection("node"));
    var node = new UnbrokenConfig.Node(
        s.integer("datacenter", 0, 0, 31),
        s.duration("maxClockBackward", Duration.ofSeconds(5)),
        s.duration("workerLease", Duration.ofSeconds(10)),
        s.duration("heartbeat", Duration.ofSeconds(2)),
        s.duration("maxClockOffset", Duration.ofMillis(500)));
    s.rejectUnknownKeys(); // before the checks between keys, so a misspelt workerLease: is named as what it is
    if (node.workerLease().isZero()) {
      throw s.invalid("workerLease", "must be more than 0");
    }
    if (node.heartbeat().isZero()) {
      throw s.invalid("heartbeat", "must be more than 0");
    }
    if (node.heartbeat().multipliedBy(2).compareTo(node.workerLease()) > 0) {
      throw s.invalid("heartbeat", node.heartbeat().toMillis() + "ms must be at most half of node.workerLease ("
          + node.workerLease().toMillis() + "ms) so one missed beat does not lose the lease");
    }
    return node;
  }

  private UnbrokenConfig.EventStore eventStore(Section root) {
    Section s = root.section("eventStore").orElseGet(() -> emptySection("eventStore"));
    UnbrokenConfig.EventStore defaults = UnbrokenConfig.EventStore.DEFAULTS;
    var eventStore = new UnbrokenConfig.EventStore(
        s.integer("maxBatchEvents", defaults.maxBatchEvents(), 1, 10_000),
        s.duration("maxDelay", defaults.maxDelay()),
        s.integer("maxInFlight", defaults.maxInFlight(), 1, 64),
        s.duration("appendTimeout", defaults.appendTimeout()),
        s.integer("asyncBacklog", defaults.asyncBacklog(), 1, 10_000_000),
        s.duration("retention", defaults.retention()));
    s.rejectUnknownKeys();
    if (eventStore.appendTimeout().isZero()) {
      throw s.invalid("appendTimeout", "must be more than 0");
    }
    if (eventStore.maxDelay().compareTo(eventStore.appendTimeout()) >= 0) {
      throw s.invalid("maxDelay", eventStore.maxDelay().toMillis() + "ms must be shorter than eventStore.appendTimeout ("
          + eventStore.appendTimeout().toMillis() + "ms), or an append waiting for its batch times out before it is written");
    }
    return eventStore;
  }

  private UnbrokenConfig.Idempotency idempotency(Section root) {
    Section s = root.section("idempotency").orElseGet(() -> emptySection("idempotency"));
    UnbrokenConfig.Idempotency defaults = UnbrokenConfig.Idempotency.DEFAULTS;
    var idempotency = new UnbrokenConfig.Idempotency(
        s.integer("expectedKeys", (int) defaults.expectedKeys(), 2, 1_000_000_000),
        s.decimal("falsePositiveRate", defaults.falsePositiveRate()),
        s.duration("writeBehind", defaults.writeBehind()));
    s.rejectUnknownKeys();
    if (!(idempotency.falsePositiveRate() > 0 && idempotency.falsePositiveRate() < 1)) {
      throw s.invalid("falsePositiveRate", "must be between 0 and 1 (exclusive), e.g. 0.01");
    }
    if (idempotency.writeBehind().compareTo(MAX_WRITE_BEHIND) > 0) {
      throw s.invalid("writeBehind", idempotency.writeBehind().toMillis() + "ms is more than "
          + MAX_WRITE_BEHIND.toMillis() + "ms: an answer Redis loses within that time after it was given runs again");
    }
    return idempotency;
  }

  private UnbrokenConfig.Cluster cluster(Section root) {
    Section s = root.section("cluster").orElseGet(() -> emptySection("cluster"));
    List<String> members = s.has("members") ? s.strings("members") : List.of("127.0.0.1");
    var cluster = new UnbrokenConfig.Cluster(
        s.bool("enabled", false), s.string("host", "127.0.0.1"), s.port("port", 5701), members);
    s.rejectUnknownKeys();
    return cluster;
  }

  private UnbrokenConfig.Demo demo(Section root, boolean embeddedDefault, UnbrokenConfig.Listener server,
      UnbrokenConfig.Admin admin) {
    Section s = root.section("demo").orElseGet(() -> emptySection("demo"));
    var demo = new UnbrokenConfig.Demo(s.bool("enabled", embeddedDefault), s.port("port", 8081));
    if (demo.enabled() && (demo.port() == 0 || demo.port() == server.port() || demo.port() == admin.port())) {
      throw s.invalid("port", "is " + demo.port() + "; the demo upstream needs a port of its own, other than "
          + "server.port (" + server.port() + ") and admin.port (" + admin.port() + ")");
    }
    s.rejectUnknownKeys();
    return demo;
  }

  private List<RouteConfig> routes(Section root, UnbrokenConfig.Demo demo) {
    List<RouteConfig> routes = new ArrayList<>();
    Set<String> prefixes = new HashSet<>();
    for (Section s : root.sections("routes")) {
      RouteConfig route = route(s);
      if (!prefixes.add(route.prefix())) {
        throw s.invalid("prefix", "'" + route.prefix() + "' is already the prefix of an earlier route");
      }
      routes.add(route);
    }
    if (routes.isEmpty() && demo.enabled()) {
      routes.add(new RouteConfig("/", URI.create("http://127.0.0.1:" + demo.port()), Set.of(),
          Duration.ofSeconds(30), ByteSizes.parse("10MiB"), EventsMode.SYNC, DEMO_IDEMPOTENCY));
    }
    if (routes.isEmpty()) {
      throw new ConfigException(root.origin(), "routes", "missing: at least one route (prefix and upstream) is needed");
    }
    return routes;
  }

  private RouteConfig route(Section s) {
    String prefix = s.requiredString("prefix", "the path prefix this route serves, e.g. /api/payments");
    if (!prefix.startsWith("/")) {
      throw s.invalid("prefix", "'" + prefix + "' must start with /");
    }
    URI upstream = s.url("upstream",
        "the URL requests matching " + prefix + " are forwarded to, e.g. http://127.0.0.1:8081",
        List.of("http", "https"));
    if (upstream.getRawQuery() != null || upstream.getRawFragment() != null) {
      throw s.invalid("upstream", "'" + upstream + "' must not have a query or fragment: each request keeps its own");
    }
    // The request's path is appended to the upstream's: http://host/v1/ must not forward /v1//api/...
    upstream = URI.create(upstream.toString().replaceAll("/+$", ""));
    Set<String> methods = new LinkedHashSet<>();
    for (String method : s.strings("methods")) {
      String upper = method.toUpperCase(Locale.ROOT);
      if (!METHODS.contains(upper)) {
        throw s.invalid("methods", "'" + method + "' is not an HTTP method");
      }
      methods.add(upper);
    }
    Duration timeout = s.duration("timeout", Duration.ofSeconds(30));
    if (timeout.isZero()) {
      throw s.invalid("timeout", "must be more than 0");
    }
    if (timeout.compareTo(MAX_ROUTE_TIMEOUT) > 0) {
      // Deadlines are counted in nanoseconds; a much longer timeout would overflow them at start.
      throw s.invalid("timeout", "must be at most " + MAX_ROUTE_TIMEOUT.toHours() + "h");
    }
    var route = new RouteConfig(trimTrailingSlash(prefix), upstream, Set.copyOf(methods), timeout,
        s.size("maxBody", ByteSizes.parse("10MiB")), s.choice("events", EventsMode.class, EventsMode.SYNC),
        s.section("idempotency").map(this::idempotencyPolicy).orElse(IdempotencyPolicy.DISABLED),
        s.optionalString("lock").map(text -> lockTemplate(s, text)), idleTimeout(s, timeout),
        s.section("async").map(this::asyncPolicy), s.bool("allowEncodedSlash", false),
        s.section("tls").map(ConfigLoader::upstreamTls));
    s.rejectUnknownKeys();
    if (route.tls().isPresent() && !"https".equals(upstream.getScheme())) {
      throw s.invalid("tls", "is for an https:// upstream; " + upstream + " is reached in plain HTTP");
    }
    IdempotencyPolicy idempotency = route.idempotency();
    Duration longestAttempt = route.timeout().plus(idempotency.upstreamGrace());
    if (idempotency.enabled() && idempotency.ttl().compareTo(longestAttempt) < 0) {
      // A claim lives for the ttl too: a shorter one could free a key whose first attempt still runs.
      throw s.invalid("idempotency", "ttl (" + idempotency.ttl().toMillis() + "ms" + ") must be at least timeout + "
          + "upstreamGrace (" + longestAttempt.toMillis() + "ms" + "), the longest an attempt may run");
    }
    if (route.lock().isPresent() && idempotency.enabled()) {
      throw s.invalid("lock", "cannot be combined with idempotency on one route yet; split the route or drop one");
    }
    if (route.async().isPresent() && (idempotency.enabled() || route.lock().isPresent())) {
      throw s.invalid("async", "cannot be combined with idempotency or lock on one route yet; split the route");
    }
    if (servedByUnbroken(route.prefix())) {
      throw s.invalid("prefix", "'" + route.prefix() + "' is where Unbroken serves its status monitors");
    }
    return route;
  }

  /** True for the paths of the status monitors Unbroken serves itself on the client listener. */
  static boolean servedByUnbroken(String path) {
    return List.of(MONITORS, SAGA_MONITORS).stream()
        .anyMatch(reserved -> path.equals(reserved) || path.startsWith(reserved + "/"));
  }

  /** How long the upstream may send nothing: more than 0, and less than the route's timeout (else it never fires). */
  private static Optional<Duration> idleTimeout(Section s, Duration timeout) {
    if (!s.has("idleTimeout")) {
      return Optional.empty();
    }
    Duration idle = s.duration("idleTimeout", Duration.ZERO);
    if (idle.isZero() || idle.compareTo(timeout) >= 0) {
      throw s.invalid("idleTimeout", "must be more than 0 and less than timeout (" + timeout.toMillis() + "ms)");
    }
    return Optional.of(idle);
  }

  private AsyncPolicy asyncPolicy(Section s) {
    var policy = new AsyncPolicy(s.duration("heartbeat", Duration.ofSeconds(30)), s.duration("keep", Duration.ofHours(1)));
    s.rejectUnknownKeys();
    if (policy.heartbeat().toMillis() < 1_000) {
      throw s.invalid("heartbeat", "must be at least 1s: clients poll the status monitor that often");
    }
    if (policy.keep().isZero()) {
      throw s.invalid("keep", "must be more than 0");
    }
    return policy;
  }

  private static LockTemplate lockTemplate(Section s, String text) {
    try {
      return new LockTemplate(text);
    } catch (IllegalArgumentException e) {
      throw s.invalid("lock", e.getMessage());
    }
  }

  private IdempotencyPolicy idempotencyPolicy(Section s) {
    IdempotencyPolicy defaults = IdempotencyPolicy.DISABLED;
    String principal = s.string("principal", defaults.principal());
    if (!PRINCIPAL.matcher(principal).matches()) {
      throw s.invalid("principal", "'" + principal + "' is not one of none | authorization | header:<Header-Name>");
    }
    var policy = new IdempotencyPolicy(s.choice("mode", Mode.class, defaults.mode()),
        s.duration("ttl", defaults.ttl()), s.choice("inflight", Inflight.class, defaults.inflight()), principal,
        s.has("fingerprintHeaders") ? headerNames(s, "fingerprintHeaders") : defaults.fingerprintHeaders(),
        s.has("replayHeaders") ? headerNames(s, "replayHeaders") : defaults.replayHeaders(),
        s.has("releaseOn") ? statusSet(s, "releaseOn") : defaults.releaseOn(),
        s.duration("upstreamGrace", defaults.upstreamGrace()),
        s.choice("unknown", Unknown.class, defaults.unknown()),
        s.size("maxAnswer", defaults.maxAnswer()));
    s.rejectUnknownKeys();
    if (policy.enabled() && policy.ttl().isZero()) {
      throw s.invalid("ttl", "must be more than 0: a completed answer must be kept for the client's retries");
    }
    return policy;
  }

  private static List<String> headerNames(Section s, String key) {
    List<String> names = s.strings(key);
    for (String name : names) {
      if (!HEADER_NAME.matcher(name).matches()) {
        throw s.invalid(key, "'" + name + "' is not an HTTP header name");
      }
    }
    return names;
  }

  private static StatusSet statusSet(Section s, String key) {
    try {
      return new StatusSet(s.strings(key));
    } catch (IllegalArgumentException e) {
      throw s.invalid(key, e.getMessage());
    }
  }

  private static String trimTrailingSlash(String prefix) {
    return prefix.length() > 1 && prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
  }

  private static Section emptySection(String name) {
    return new Section(name, ConfigNode.Mapping.empty("built-in defaults"));
  }
}
