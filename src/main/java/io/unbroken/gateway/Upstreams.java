package io.unbroken.gateway;

import io.unbroken.config.RouteConfig;
import io.unbroken.config.UpstreamTls;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One pooled keep-alive HTTP client per upstream origin, owned by one gateway verticle so its
 * connections stay on that verticle's event loop. Routes to the same origin with the same TLS
 * settings share the pool.
 */
final class Upstreams {

  private static final int MAX_CONNECTIONS_PER_ORIGIN = 256;

  private final Map<RouteConfig, HttpClient> byRoute = new IdentityHashMap<>();
  private final List<HttpClientAgent> clients = new ArrayList<>();

  Upstreams(Vertx vertx, List<RouteConfig> routes) {
    Map<String, HttpClientAgent> byOrigin = new HashMap<>();
    for (RouteConfig route : routes) {
      URI upstream = route.upstream();
      String origin = upstream.getScheme() + "://" + upstream.getHost() + ":" + port(upstream) + " " + route.tls();
      HttpClientAgent client = byOrigin.computeIfAbsent(origin, o -> {
        HttpClientAgent created = vertx.createHttpClient(options(upstream, route),
            new PoolOptions().setHttp1MaxSize(MAX_CONNECTIONS_PER_ORIGIN));
        clients.add(created);
        return created;
      });
      byRoute.put(route, client);
    }
  }

  HttpClient forRoute(RouteConfig route) {
    return byRoute.get(route);
  }

  Future<Void> close() {
    return Future.all(clients.stream().map(HttpClientAgent::close).toList()).mapEmpty();
  }

  /** Where on its upstream a request of this route goes: the upstream's base path, then the request's path and query. */
  static RequestOptions requestOptions(RouteConfig route, HttpServerRequest request, RequestTarget target) {
    URI upstream = route.upstream();
    String basePath = upstream.getRawPath() == null || upstream.getRawPath().equals("/") ? "" : upstream.getRawPath();
    RequestOptions options = new RequestOptions().setMethod(request.method()).setURI(basePath + target.uri())
        .setHost(upstream.getHost()).setPort(port(upstream));
    Optional<String> serverName = route.tls().flatMap(UpstreamTls::serverName);
    if (serverName.isPresent()) {
      // Connect where the URL says; verify, name (SNI) and address (Host) the service as serverName.
      options.setServer(SocketAddress.inetSocketAddress(port(upstream), upstream.getHost())).setHost(serverName.get());
    }
    return options;
  }

  static int port(URI upstream) {
    if (upstream.getPort() > 0) {
      return upstream.getPort();
    }
    return "https".equals(upstream.getScheme()) ? 443 : 80;
  }

  private static HttpClientOptions options(URI upstream, RouteConfig route) {
    HttpClientOptions options = new HttpClientOptions()
        .setDefaultHost(upstream.getHost())
        .setDefaultPort(port(upstream))
        .setSsl("https".equals(upstream.getScheme()))
        .setVerifyHost(true)
        .setForceSni(true)
        .setKeepAlive(true)
        .setPipelining(false)
        .setDecompressionSupported(false)
        .setConnectTimeout((int) Math.min(route.timeout().toMillis(), 10_000));
    route.tls().ifPresent(tls -> {
      tls.ca().ifPresent(ca -> options.setTrustOptions(new PemTrustOptions().addCertPath(ca.toString())));
      tls.cert().ifPresent(cert -> options.setKeyCertOptions(
          new PemKeyCertOptions().setCertPath(cert.toString()).setKeyPath(tls.key().orElseThrow().toString())));
    });
    return options;
  }
}
