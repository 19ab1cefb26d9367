package io.unbroken.platform;

import io.unbroken.config.UnbrokenConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.ServerSSLOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TLS listener's certificate, read from its PEM files at start and again every
 * {@code checkEvery} and whenever the node is told to ({@link #RELOAD_ADDRESS}, on SIGHUP). A pair
 * that changed goes to the server, which uses it for new handshakes while open connections keep
 * theirs; a pair that does not load (a file half-written by a renewal) is logged and the old one
 * kept until the next try. HTTP/2 is offered through ALPN beside HTTP/1.1 where the listener asks.
 */
public final class ListenerTls {

  /** Where a node is told to read its certificates again; each node hears only its own. */
  public static final String RELOAD_ADDRESS = "unbroken.tls.reload";

  private static final Logger log = LoggerFactory.getLogger(ListenerTls.class);

  private record Pair(Buffer cert, Buffer key) {
    PemKeyCertOptions options() {
      return new PemKeyCertOptions().setCertValue(cert).setKeyValue(key);
    }
  }

  private final Vertx vertx;
  private final UnbrokenConfig.Tls tls;
  private final String listenerName;
  private final boolean http2;
  private Pair current;
  private HttpServer server;
  private long checkTimer = -1;
  private MessageConsumer<Void> reloads;

  private ListenerTls(Vertx vertx, UnbrokenConfig.Tls tls, String listenerName, boolean http2) {
    this.vertx = vertx;
    this.tls = tls;
    this.listenerName = listenerName;
    this.http2 = http2;
  }

  /**
   * Reads the listener's certificate and key; {@code listenerName} (e.g. {@code server.tls}) names
   * it in failures, and {@code http2} says whether clients may choose HTTP/2.
   */
  public static Future<ListenerTls> read(Vertx vertx, UnbrokenConfig.Tls tls, String listenerName, boolean http2) {
    ListenerTls listenerTls = new ListenerTls(vertx, tls, listenerName, http2);
    return listenerTls.readPair().map(pair -> {
      listenerTls.current = pair;
      return listenerTls;
    });
  }

  /** The options of a server that speaks TLS with the certificate read. */
  public HttpServerOptions secure(HttpServerOptions options) {
    return options.setSsl(true).setUseAlpn(http2).setKeyCertOptions(current.options());
  }

  /** Starts serving {@code server} whatever pair its files hold next; failures to listen name the files. */
  public Future<HttpServer> listen(HttpServer server, int port, String host) {
    this.server = server;
    return server.listen(port, host)
        .recover(failed -> Future.failedFuture(new StartupFailure(listenerName + ": cannot listen on " + host + ":"
            + port + " with the certificate in " + tls.cert() + " and the key in " + tls.key() + ": "
            + failed.getMessage())))
        .onSuccess(listening -> {
          if (!tls.checkEvery().isZero()) {
            checkTimer = vertx.setPeriodic(tls.checkEvery().toMillis(), t -> reload());
          }
          reloads = vertx.eventBus().localConsumer(RELOAD_ADDRESS, asked -> reload());
        });
  }

  public Future<Void> stop() {
    vertx.cancelTimer(checkTimer);
    return reloads == null ? Future.succeededFuture() : reloads.unregister();
  }

  private void reload() {
    readPair().compose(pair -> {
      if (pair.equals(current)) {
        return Future.succeededFuture();
      }
      return server.updateSSLOptions(new ServerSSLOptions().setUseAlpn(http2).setKeyCertOptions(pair.options()), true)
          .onSuccess(updated -> {
            current = pair;
            log.info("{}: serving the certificate now in {}", listenerName, tls.cert());
          })
          .mapEmpty();
    }).onFailure(failed -> log.warn("{}: kept the certificate in use; {} and {} did not load: {}", listenerName,
        tls.cert(), tls.key(), failed.getMessage()));
  }

  private Future<Pair> readPair() {
    var files = vertx.fileSystem();
    return Future.all(files.readFile(tls.cert().toString()), files.readFile(tls.key().toString()))
        .map(both -> new Pair(both.resultAt(0), both.resultAt(1)));
  }
}
