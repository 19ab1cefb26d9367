package io.unbroken.gateway;

import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.UnbrokenNode;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.config.UpstreamTls;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.NodeProcess;
import io.unbroken.testing.TestCertificates;
import io.unbroken.testing.TestNodes;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on both listeners with certificates made for the run: HTTP/2 through ALPN and HTTP/1.1 from
 * clients, a renewed certificate served to new connections while open ones keep theirs (by the
 * periodic check, or at once on SIGHUP), a broken renewal ignored,
 * and https upstreams verified against a route's CA and server name, with a client certificate.
 */
class TlsIT {

  @TempDir
  static Path dir;

  private static TestCertificates certificates;
  private static TestCertificates.Leaf first;
  private static TestCertificates.Leaf renewed;
  private static Vertx vertx;
  private static TestUpstream upstream;
  private static String origin;
  private UnbrokenNode node;

  private record Answer(int status, HttpVersion version, String servedAs, HttpConnection connection, String body) {}

  @BeforeAll
  static void start() {
    certificates = TestCertificates.create(dir);
    first = certificates.leaf("gateway-first", "IP:127.0.0.1", "DNS:localhost");
    renewed = certificates.leaf("gateway-renewed", "IP:127.0.0.1", "DNS:localhost");
    vertx = Vertx.vertx();
    int upstreamPort = FreePorts.next();
    upstream = Await.result(new TestUpstream(vertx).start(upstreamPort));
    origin = "http://127.0.0.1:" + upstreamPort;
  }

  @AfterAll
  static void stop() {
    Await.result(vertx.close());
  }

  @AfterEach
  void stopNode() {
    if (node != null) {
      Await.result(node.close());
    }
    upstream.clear();
  }

  @Test
  void clientsSpeakHttp2OrHttp1OverTlsToBothListeners() throws IOException {
    UnbrokenConfig config = startNode(Duration.ofSeconds(10), List.of(TestNodes.route("/api", origin, Duration.ofSeconds(5),
        RouteConfig.EventsMode.OFF)));

    Answer h2 = get(client(HttpVersion.HTTP_2), config.server().port(), "/api/orders/7?x=1");
    assertThat(h2.status()).isEqualTo(200);
    assertThat(h2.version()).isEqualTo(HttpVersion.HTTP_2);
    assertThat(h2.servedAs()).isEqualTo("CN=gateway-first");
    assertThat(upstream.last().uri).isEqualTo("/api/orders/7?x=1");
    assertThat(upstream.last().headers.get("X-Forwarded-Proto")).isEqualTo("https");
    assertThat(upstream.last().headers.get("X-Forwarded-Host")).as("from :authority")
        .isEqualTo("127.0.0.1:" + config.server().port());
    assertThat(upstream.last().headers.get("Host")).isEqualTo(origin.substring("http://".length()));

    Answer h1 = get(client(HttpVersion.HTTP_1_1), config.server().port(), "/api/orders/8");
    assertThat(h1.status()).isEqualTo(200);
    assertThat(h1.version()).isEqualTo(HttpVersion.HTTP_1_1);
    assertThat(upstream.received()).hasSize(2);

    assertThat(get(client(HttpVersion.HTTP_1_1), config.admin().port(), "/health/live").status()).isEqualTo(200);

    HttpClientAgent shared = client(HttpVersion.HTTP_2);
    Answer before = get(shared, config.server().port(), "/api/one");
    int refused = Await.result(shared.request(HttpMethod.POST, config.server().port(), "127.0.0.1", "/nowhere")
        .compose(request -> request.send(Buffer.buffer("x".repeat(4096))))
        .compose(response -> response.body().map(body -> response.statusCode())));
    assertThat(refused).isEqualTo(404);
    Answer after = get(shared, config.server().port(), "/api/two");
    assertThat(after.status()).isEqualTo(200);
    assertThat(after.connection()).as("a refused stream leaves the other streams' connection open")
        .isSameAs(before.connection());
  }

  @Test
  void aRenewedCertificateServesNewConnectionsWhileOpenOnesKeepTheirs() throws IOException {
    UnbrokenConfig config = startNode(Duration.ofMillis(200), List.of(TestNodes.route("/api", origin,
        Duration.ofSeconds(5), RouteConfig.EventsMode.OFF)));
    int port = config.server().port();
    HttpClientAgent open = client(HttpVersion.HTTP_1_1);
    Answer before = get(open, port, "/api/a");

    Files.writeString(served().cert(), "-----BEGIN CERTIFICATE-----\nhalf written");
    sleep(Duration.ofMillis(800));
    assertThat(get(client(HttpVersion.HTTP_1_1), port, "/api/b").servedAs()).as("a pair that does not load is ignored")
        .isEqualTo("CN=gateway-first");

    serve(renewed);
    Await.until("new connections get the renewed certificate", Duration.ofSeconds(10),
        () -> servedAs(port).equals("CN=gateway-renewed"));
    Answer after = get(open, port, "/api/c");
    assertThat(after.connection()).as("the open connection was kept").isSameAs(before.connection());
    assertThat(after.status()).isEqualTo(200);
  }

  @Test
  void toldToReloadTheNodeReadsItsCertificateAtOnce() throws IOException {
    UnbrokenConfig config = startNode(Duration.ZERO, List.of(TestNodes.route("/api", origin, Duration.ofSeconds(5),
        RouteConfig.EventsMode.OFF)));
    int port = config.server().port();
    serve(renewed);
    sleep(Duration.ofMillis(500));
    assertThat(servedAs(port)).as("without a periodic check, files are read when the node is told")
        .isEqualTo("CN=gateway-first");

    node.reloadCertificates();

    Await.until("the renewed certificate is served", Duration.ofSeconds(5),
        () -> servedAs(port).equals("CN=gateway-renewed"));
  }

  @Test
  void sighupHasARunningNodeReadItsCertificates() throws Exception {
    serve(first);
    int port = FreePorts.next();
    try (NodeProcess process = NodeProcess.start(dir, "hangup", """
        server: { host: 127.0.0.1, port: %d, tls: { cert: %s, key: %s, checkEvery: 0s } }
        admin: { host: 127.0.0.1, port: %d }
        routes:
          - { prefix: /api, upstream: "%s", events: off }
        """.formatted(port, served().cert(), served().key(), FreePorts.next(), origin))) {
      assertThat(servedAs(port)).isEqualTo("CN=gateway-first");
      assertThat(get(client(HttpVersion.HTTP_2), port, "/api/h2").version())
          .as("without an idle timeout to bound its connections, HTTP/2 is not offered").isEqualTo(HttpVersion.HTTP_1_1);
      serve(renewed);

      process.hangUp();

      Await.until("the renewed certificate is served", Duration.ofSeconds(5),
          () -> servedAs(port).equals("CN=gateway-renewed"));
      assertThat(process.log()).contains("server.tls: serving the certificate now in " + served().cert());
    }
  }

  @Test
  void anHttpsUpstreamIsVerifiedByTheRoutesCaAndServerNameAndGivenItsClientCertificate() throws IOException {
    TestCertificates.Leaf service = certificates.leaf("payments.internal", "DNS:payments.internal");
    TestCertificates.Leaf client = certificates.leaf("unbroken-client", "DNS:unbroken-client");
    int tlsPort = FreePorts.next();
    HttpServer tlsUpstream = Await.result(vertx.createHttpServer(new HttpServerOptions().setSsl(true)
            .setKeyCertOptions(pem(service)).setClientAuth(ClientAuth.REQUIRED)
            .setTrustOptions(new PemTrustOptions().addCertPath(certificates.ca().toString())))
        .requestHandler(request -> request.response().end("host=" + request.getHeader("Host") + " client="
            + subjectOf(request.connection())))
        .listen(tlsPort, "127.0.0.1"));
    try {
      String upstreamUrl = "https://127.0.0.1:" + tlsPort;
      Optional<Path> ca = Optional.of(certificates.ca());
      UnbrokenConfig config = startNode(Duration.ofSeconds(10), List.of(
          tlsRoute("/mutual", upstreamUrl, new UpstreamTls(ca, Optional.of("payments.internal"),
              Optional.of(client.cert()), Optional.of(client.key()))),
          tlsRoute("/by-address", upstreamUrl, new UpstreamTls(ca, Optional.empty(), Optional.of(client.cert()),
              Optional.of(client.key()))),
          tlsRoute("/no-client-cert", upstreamUrl, new UpstreamTls(ca, Optional.of("payments.internal"),
              Optional.empty(), Optional.empty())),
          tlsRoute("/jvm-trust", upstreamUrl, new UpstreamTls(Optional.empty(), Optional.of("payments.internal"),
              Optional.of(client.cert()), Optional.of(client.key())))));
      int port = config.server().port();

      Answer mutual = get(client(HttpVersion.HTTP_1_1), port, "/mutual/pay");
      assertThat(mutual.status()).isEqualTo(200);
      assertThat(mutual.body()).isEqualTo("host=payments.internal:" + tlsPort + " client=CN=unbroken-client");
      assertThat(get(client(HttpVersion.HTTP_1_1), port, "/by-address/pay").status())
          .as("the certificate names payments.internal, not 127.0.0.1").isEqualTo(502);
      assertThat(get(client(HttpVersion.HTTP_1_1), port, "/no-client-cert/pay").status()).isEqualTo(502);
      assertThat(get(client(HttpVersion.HTTP_1_1), port, "/jvm-trust/pay").status())
          .as("the test CA is not one the JVM trusts").isEqualTo(502);
    } finally {
      Await.result(tlsUpstream.close());
    }
  }

  private UnbrokenConfig startNode(Duration checkEvery, List<RouteConfig> routes) throws IOException {
    serve(first);
    UnbrokenConfig.Tls tls = new UnbrokenConfig.Tls(served().cert(), served().key(), checkEvery);
    UnbrokenConfig plain = TestNodes.embedded(routes);
    UnbrokenConfig.Listener listener = plain.server();
    UnbrokenConfig.Admin admin = plain.admin();
    // HTTP/2 is offered where an idle timeout bounds its connections.
    UnbrokenConfig.Limits limits = new UnbrokenConfig.Limits(4096, 8192, 100, Duration.ofSeconds(30),
        Duration.ofSeconds(60), 10_000);
    UnbrokenConfig config = new UnbrokenConfig(new UnbrokenConfig.Listener(listener.host(), listener.port(),
        listener.instances(), listener.drainTimeout(), limits, Optional.of(tls)),
        new UnbrokenConfig.Admin(admin.host(), admin.port(), admin.token(), Optional.of(tls)),
        plain.redis(), plain.postgres(), plain.node(), plain.cluster(), plain.demo(), plain.routes());
    node = Await.result(UnbrokenNode.start(config));
    return config;
  }

  private static RouteConfig tlsRoute(String prefix, String upstreamUrl, UpstreamTls tls) {
    return new RouteConfig(prefix, URI.create(upstreamUrl), Set.of(), Duration.ofSeconds(5), 1024,
        RouteConfig.EventsMode.OFF, IdempotencyPolicy.DISABLED, Optional.empty(), Optional.empty(), Optional.empty(),
        false, Optional.of(tls));
  }

  /** The files the node's listeners are configured with; a test renews them by copying another leaf over. */
  private static TestCertificates.Leaf served() {
    return new TestCertificates.Leaf(dir.resolve("served.pem"), dir.resolve("served.key"));
  }

  private static void serve(TestCertificates.Leaf leaf) throws IOException {
    Files.copy(leaf.key(), served().key(), REPLACE_EXISTING);
    Files.copy(leaf.cert(), served().cert(), REPLACE_EXISTING);
  }

  private static PemKeyCertOptions pem(TestCertificates.Leaf leaf) {
    return new PemKeyCertOptions().setCertPath(leaf.cert().toString()).setKeyPath(leaf.key().toString());
  }

  /** A client that trusts the run's CA, checks the host name, and keeps one connection. */
  private static HttpClientAgent client(HttpVersion version) {
    return vertx.createHttpClient(new HttpClientOptions().setSsl(true).setUseAlpn(true).setProtocolVersion(version)
        .setVerifyHost(true).setTrustOptions(new PemTrustOptions().addCertPath(certificates.ca().toString())),
        new PoolOptions().setHttp1MaxSize(1).setHttp2MaxSize(1));
  }

  private static String servedAs(int port) {
    HttpClientAgent fresh = client(HttpVersion.HTTP_1_1);
    try {
      return get(fresh, port, "/api/probe").servedAs();
    } finally {
      Await.result(fresh.close());
    }
  }

  private static Answer get(HttpClientAgent client, int port, String path) {
    return Await.result(client.request(HttpMethod.GET, port, "127.0.0.1", path)
        .compose(request -> request.send().compose(response -> response.body().map(body -> {
          HttpConnection connection = request.connection();
          return new Answer(response.statusCode(), response.version(), subjectOf(connection), connection,
              body.toString());
        }))));
  }

  private static String subjectOf(HttpConnection connection) {
    try {
      return ((X509Certificate) connection.peerCertificates().get(0)).getSubjectX500Principal().getName();
    } catch (SSLPeerUnverifiedException e) {
      return "unverified";
    }
  }

  private static void sleep(Duration duration) {
    try {
      Thread.sleep(duration.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
