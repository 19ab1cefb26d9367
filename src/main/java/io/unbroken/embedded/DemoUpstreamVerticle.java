package io.unbroken.embedded;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.time.Instant;

/**
 * A small upstream on 127.0.0.1 for the embedded default, so a first {@code curl} through the
 * gateway shows a proxied answer: it echoes the method, path, the request id the gateway
 * assigned, and how many body bytes it received. Under {@code /ledgers/} it serves in-memory
 * {@link Ledgers}, with no faults.
 */
public final class DemoUpstreamVerticle extends VerticleBase {

  private final int port;
  private HttpServer server;
  private Ledgers ledgers;

  public DemoUpstreamVerticle(int port) {
    this.port = port;
  }

  @Override
  public Future<?> start() {
    ledgers = new Ledgers(vertx, Ledgers.Faults.NONE);
    server = vertx.createHttpServer().requestHandler(this::answer);
    return server.listen(port, "127.0.0.1");
  }

  @Override
  public Future<?> stop() {
    return server.close();
  }

  private void answer(HttpServerRequest request) {
    if (request.path().startsWith("/ledgers/")) {
      ledgers.handle(request);
      return;
    }
    request.body()
        .map(body -> new JsonObject()
            .put("service", "unbroken demo upstream")
            .put("method", request.method().name())
            .put("path", request.path())
            .put("requestId", request.getHeader("X-Request-Id"))
            .put("receivedBytes", body.length())
            .put("at", Instant.now().toString()))
        .compose(json -> request.response().putHeader("Content-Type", "application/json").end(json.encodePrettily() + "\n"));
  }
}
