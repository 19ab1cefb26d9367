package io.unbroken.testing;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An upstream HTTP server for tests: each path prefix gets a handler, and every request it
 * receives is recorded, including whether its connection was closed before the answer was sent
 * (what the upstream sees when the gateway resets the call).
 */
public final class TestUpstream {

  /** What the upstream saw of one request. */
  public static final class Received {
    public final String method;
    public final String uri;
    public final MultiMap headers;
    public volatile boolean closedBeforeAnswer;
    public volatile boolean bodyComplete;
    public volatile long bodyBytes;

    Received(HttpServerRequest request) {
      this.method = request.method().name();
      this.uri = request.uri();
      this.headers = MultiMap.caseInsensitiveMultiMap().addAll(request.headers());
    }
  }

  private final Vertx vertx;
  private final Map<String, Handler<HttpServerRequest>> handlers = new ConcurrentHashMap<>();
  private final List<Received> received = new CopyOnWriteArrayList<>();
  private HttpServer server;

  public TestUpstream(Vertx vertx) {
    this.vertx = vertx;
  }

  public Future<TestUpstream> start(int port) {
    server = vertx.createHttpServer().requestHandler(this::dispatch);
    return server.listen(port, "127.0.0.1").map(this);
  }

  public Future<Void> close() {
    return server.close();
  }

  /** Requests under {@code prefix} are answered by {@code handler}. */
  public TestUpstream on(String prefix, Handler<HttpServerRequest> handler) {
    handlers.put(prefix, handler);
    return this;
  }

  public List<Received> received() {
    return received;
  }

  public Received last() {
    return received.get(received.size() - 1);
  }

  public void clear() {
    received.clear();
  }

  /** The record of the request now being handled; handlers use it to note the body they read. */
  public Received recordOf(HttpServerRequest request) {
    for (int i = received.size() - 1; i >= 0; i--) {
      if (received.get(i).headers.get("X-Request-Id") != null
          && received.get(i).headers.get("X-Request-Id").equals(request.getHeader("X-Request-Id"))) {
        return received.get(i);
      }
    }
    return last();
  }

  /** Echoes method, URI and body back; the request's headers come back as {@code Echo-<name>}. */
  public static void echo(HttpServerRequest request) {
    request.body().onSuccess(body -> {
      var response = request.response().putHeader("Echo-Method", request.method().name())
          .putHeader("Echo-Uri", request.uri());
      request.headers().forEach((name, value) -> response.headers().add("Echo-" + name, value));
      response.end(body);
    });
  }

  private void dispatch(HttpServerRequest request) {
    Received record = new Received(request);
    received.add(record);
    request.response().closeHandler(closed -> {
      if (!request.response().ended()) {
        record.closedBeforeAnswer = true;
      }
    });
    String path = request.path();
    Handler<HttpServerRequest> handler = handlers.entrySet().stream()
        .filter(entry -> path.startsWith(entry.getKey()))
        .max(Map.Entry.comparingByKey((a, b) -> Integer.compare(a.length(), b.length())))
        .map(Map.Entry::getValue)
        .orElse(TestUpstream::echo);
    handler.handle(request);
  }

  /** A body of {@code size} bytes whose content is a function of the offset, so it can be checked without keeping it. */
  public static Buffer pattern(int offset, int size) {
    byte[] bytes = new byte[size];
    for (int i = 0; i < size; i++) {
      bytes[i] = (byte) ((offset + i) * 31 + 7);
    }
    return Buffer.buffer(bytes);
  }
}
