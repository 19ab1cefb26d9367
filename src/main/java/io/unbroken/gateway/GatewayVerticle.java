package io.unbroken.gateway;

import io.netty.handler.codec.PrematureChannelClosureException;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.SagaConfig;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.gateway.GatewayMetrics.Outcome;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.idempotency.IdempotencyKeys;
import io.unbroken.idempotency.IdempotencyMetrics;
import io.unbroken.ids.SnowflakeIds;
import io.unbroken.locks.ResourceLocks;
import io.unbroken.platform.ListenerTls;
import io.unbroken.platform.RequestScope;
import io.unbroken.saga.SagaClient;
import io.unbroken.zombie.ClusterInflight;
import io.unbroken.zombie.InflightRegistry;
import io.unbroken.zombie.StatusMonitors;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The client-facing listener: gives every request a Snowflake {@code X-Request-Id}, routes it by
 * longest path prefix and hands it to a {@link ProxyExchange}. Deployed once per event loop; all
 * instances share the port.
 */
public final class GatewayVerticle extends VerticleBase {

  private static final CharSequence X_REQUEST_ID = HttpHeaders.createOptimized(ForwardedHeaders.REQUEST_ID);
  // How long a request cancelled at the end of a drain has to answer its client and record its end.
  private static final long CANCELLED_SETTLE_MS = 5_000;

  /** What all gateway verticles of a node share, from the composition root. */
  public record Collaborators(SnowflakeIds ids, GatewayMetrics metrics, RequestJournal journal, ResourceLocks locks,
      Idempotency idempotency, IdempotencyMetrics idempotencyMetrics, InflightRegistry inflight, String nodeId,
      StatusMonitors monitors, ClusterInflight cluster, SagaClient sagas, ConnectionGate connections) {}

  private final UnbrokenConfig.Listener listener;
  private final List<RouteConfig> routes;
  private final Collaborators shared;
  private ExchangeServices services;
  private RouteTable routeTable;
  private Upstreams upstreams;
  private Deadlines deadlines;
  private MonitorEndpoint monitorEndpoint;
  private SagaExchange sagaExchange;
  private long sweepTimer;
  private HttpServer server;
  private ListenerTls tls; // null on a plain listener

  public GatewayVerticle(UnbrokenConfig.Listener listener, List<RouteConfig> routes, Collaborators shared) {
    this.listener = listener;
    this.routes = routes;
    this.shared = shared;
  }

  @Override
  public Future<?> start() {
    routeTable = new RouteTable(routes);
    upstreams = new Upstreams(vertx, routes);
    deadlines = new Deadlines(vertx, routes);
    services = new ExchangeServices(vertx, shared.metrics(), deadlines, shared.journal(), shared.locks(), shared.idempotency(),
        shared.idempotencyMetrics(), new UpstreamCalls(), shared.inflight(), shared.nodeId(), shared.monitors());
    monitorEndpoint = new MonitorEndpoint(shared.monitors(), shared.cluster(), shared.metrics());
    sagaExchange = new SagaExchange(shared.sagas(), shared.metrics());
    sweepTimer = vertx.setPeriodic(Deadlines.sweepIntervalMillis(routes), t -> deadlines.expireDue());
    // WebSocket compression and h2c upgrade would inspect every request; neither is proxied here.
    HttpServerOptions options = new HttpServerOptions()
            .setHandle100ContinueAutomatically(false)
            .setCompressionSupported(false)
            .setPerMessageWebSocketCompressionSupported(false)
            .setPerFrameWebSocketCompressionSupported(false)
            .setHttp2ClearTextEnabled(false)
            .setTcpNoDelay(true)
            .setMaxInitialLineLength(listener.limits().maxRequestLine())
            .setMaxHeaderSize(listener.limits().maxHeaderSize())
            .setIdleTimeout((int) listener.limits().idleTimeout().toMillis())
            .setIdleTimeoutUnit(TimeUnit.MILLISECONDS);
    if (listener.tls().isEmpty()) {
      return serve(options).listen(listener.port(), listener.host());
    }
    // The head timeout and the connection count see HTTP/1 heads; an HTTP/2 connection is bounded
    // by the idle timeout alone, so HTTP/2 is offered only where there is one.
    boolean http2 = !listener.limits().idleTimeout().isZero();
    return ListenerTls.read(vertx, listener.tls().get(), "server.tls", http2).compose(read -> {
      tls = read;
      return tls.listen(serve(tls.secure(options)), listener.port(), listener.host());
    });
  }

  private HttpServer serve(HttpServerOptions options) {
    server = vertx.createHttpServer(options)
        .connectionHandler(connection -> accept(connection, options))
        .invalidRequestHandler(this::refuseUndecodable)
        .requestHandler(this::handle);
    return server;
  }

  private void accept(HttpConnection connection, HttpServerOptions options) {
    ConnectionGate gate = shared.connections();
    if (!gate.admit()) {
      connection.close();
      return;
    }
    connection.closeHandler(closed -> gate.left());
    StrictRequestDecoder.install(connection, options, listener.limits().headTimeout(), gate::headTimedOut);
  }

  /**
   * Drains: stops accepting, lets in-flight requests (and upstream calls that outlived their
   * client) finish within {@code server.drainTimeout}, then cancels what is left ({@code shutdown}),
   * which answers their clients, frees their keys and locks now rather than at their leases' end,
   * and records how they ended.
   */
  @Override
  public Future<?> stop() {
    long drainMs = listener.drainTimeout().toMillis();
    long closeMs = drainMs + CANCELLED_SETTLE_MS;
    if (tls != null) {
      tls.stop(); // a reload on a server being drained would find it no longer listening
    }
    long cancelTimer = vertx.setTimer(Math.max(1, drainMs),
        t -> shared.inflight().cancelAll(InflightRegistry.CancelledBy.SHUTDOWN));
    return server.shutdown(closeMs, TimeUnit.MILLISECONDS)
        .eventually(() -> services.calls().drained(closeMs))
        .eventually(() -> services.idempotency().flushDurable())
        .eventually(() -> {
          vertx.cancelTimer(cancelTimer);
          vertx.cancelTimer(sweepTimer);
          return upstreams.close();
        });
  }

  /** A request the decoder could not read, or refused to: answered as a problem, and its connection closed. */
  private void refuseUndecodable(HttpServerRequest request) {
    if (request.decoderResult().cause() instanceof PrematureChannelClosureException) {
      return; // the client left mid-head (or its head timed out): nobody to answer
    }
    long id = shared.ids().nextId();
    String requestId = id == SnowflakeIds.UNAVAILABLE ? null : Long.toString(id);
    if (requestId != null) {
      request.response().putHeader(X_REQUEST_ID, requestId);
    }
    refuseAndClose(request, Framing.undecodable(request.decoderResult().cause(), listener.limits(), requestId));
  }

  /** Nothing after a request that could be read two ways can be trusted to start where it seems to. */
  private void refuseAndClose(HttpServerRequest request, Problem problem) {
    shared.metrics().request(null, problem.status(), Outcome.REJECTED);
    if (request.version() == HttpVersion.HTTP_2) {
      problem.send(request.response()); // its own stream: the requests beside it are framed apart
      return;
    }
    request.response().putHeader(HttpHeaders.CONNECTION, "close");
    problem.send(request.response());
    // Shut down now, not once the answer is written: from now on Vert.x drops a request pipelined
    // behind this one (a chunked body's end, then GET ...), which it would otherwise read and handle.
    request.connection().shutdown(UnreadBody.GRACE_MS, TimeUnit.MILLISECONDS);
  }

  private void handle(HttpServerRequest request) {
    HttpServerResponse response = request.response();
    long id = shared.ids().nextId();
    if (id == SnowflakeIds.UNAVAILABLE) {
      reject(request, null, Problem.of("node-not-ready", "Node not ready", 503,
          "This node cannot issue request ids: " + shared.ids().unavailableReason(), null), Outcome.NOT_READY);
      return;
    }
    String requestId = Long.toString(id);
    RequestScope.bind(requestId);
    response.putHeader(X_REQUEST_ID, requestId);
    Optional<Problem> unreadable = Framing.problemWith(request, listener.limits().maxHeaders(), requestId);
    if (unreadable.isPresent()) {
      refuseAndClose(request, unreadable.get());
      return;
    }
    RequestTarget target;
    try {
      target = RequestTarget.of(request);
    } catch (RequestTarget.Refused refused) {
      reject(request, null, Problem.of("path-invalid", "Path invalid", 400, refused.getMessage(), requestId),
          Outcome.REJECTED);
      return;
    }
    String path = target.path();
    Optional<String> monitored = MonitorEndpoint.monitoredId(path);
    if (monitored.isPresent()) {
      monitorEndpoint.handle(request, monitored.get(), requestId);
      return;
    }
    Optional<SagaConfig> saga = shared.sagas().at(path);
    if (saga.isPresent()) {
      sagaExchange.run(request, saga.get(), requestId);
      return;
    }
    Optional<SagaExchange.Followed> followed = SagaExchange.followed(path);
    if (followed.isPresent()) {
      sagaExchange.follow(request, followed.get(), requestId);
      return;
    }
    RouteConfig route = routeTable.match(path);
    if (route == null) {
      reject(request, null, Problem.of("no-route", "No route", 404,
          "No route serves " + request.method() + " " + path, requestId), Outcome.REJECTED);
    } else if (target.encodedSlash() && !route.allowEncodedSlash()) {
      reject(request, route, Problem.of("path-invalid", "Path invalid", 400, "The path holds %2F, which the route "
          + route.prefix() + " does not accept (routes[].allowEncodedSlash)", requestId), Outcome.REJECTED);
    } else if (!route.allows(request.method().name())) {
      response.putHeader(HttpHeaders.ALLOW, String.join(", ", route.methods()));
      reject(request, route, Problem.of("method-not-allowed", "Method not allowed", 405,
          "The route " + route.prefix() + " does not accept " + request.method(), requestId), Outcome.REJECTED);
    } else if (declaredLength(request) > route.maxBody()) {
      reject(request, route, ProxyFailure.bodyTooLarge(route.maxBody()).toProblem(requestId), Outcome.REJECTED);
    } else {
      long clientDeadline = ForwardedHeaders.clientDeadlineMillis(request);
      if (clientDeadline < 0) {
        reject(request, route, Problem.of("deadline-invalid", "X-Request-Deadline-Ms invalid", 400,
            ForwardedHeaders.REQUEST_DEADLINE + " must be a whole number of milliseconds (at most "
            + ForwardedHeaders.MAX_CLIENT_DEADLINE_DIGITS + " digits)", requestId), Outcome.REJECTED);
      } else if (route.async().isPresent() && AsyncExchange.requested(request)) {
        new AsyncExchange(services, request, target, route, upstreams.forRoute(route), requestId).run();
      } else if (route.idempotency().enabled()) {
        exchangeWithKey(request, target, route, requestId, clientDeadline);
      } else {
        new ProxyExchange(services, request, target, route, upstreams.forRoute(route), requestId, clientDeadline).run();
      }
    }
  }

  /** A route with idempotency: a valid key gets the idempotent exchange, a missing one where optional the plain one. */
  private void exchangeWithKey(HttpServerRequest request, RequestTarget target, RouteConfig route, String requestId,
      long clientDeadline) {
    String key = request.getHeader(IdempotentExchange.IDEMPOTENCY_KEY);
    if (key == null && route.idempotency().mode() == IdempotencyPolicy.Mode.OPTIONAL) {
      new ProxyExchange(services, request, target, route, upstreams.forRoute(route), requestId, clientDeadline).run();
      return;
    }
    Optional<String> problem = key == null
        ? Optional.of("the route " + route.prefix() + " requires an Idempotency-Key header")
        : IdempotencyKeys.problemWith(key);
    if (problem.isPresent()) {
      reject(request, route, Problem.of(key == null ? "idempotency-key-missing" : "idempotency-key-invalid",
          key == null ? "Idempotency-Key missing" : "Idempotency-Key invalid", 400, problem.get(), requestId),
          Outcome.REJECTED);
      return;
    }
    new IdempotentExchange(services, request, target, route, upstreams.forRoute(route), requestId, key, clientDeadline).run();
  }

  private void reject(HttpServerRequest request, RouteConfig route, Problem problem, Outcome outcome) {
    if (declaredLength(request) != 0 || request.headers().contains(HttpHeaders.TRANSFER_ENCODING)) {
      UnreadBody.discardThenClose(vertx, request);
    }
    problem.send(request.response());
    shared.metrics().request(route == null ? null : route.prefix(), problem.status(), outcome);
  }

  private static long declaredLength(HttpServerRequest request) {
    String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length == null) {
      return 0;
    }
    try {
      return Long.parseLong(length.trim());
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }
}
