package io.unbroken.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.util.function.Supplier;

/**
 * An HTTP client for one server on 127.0.0.1, driven from one event-loop context as a verticle
 * would drive it: calling a Vert.x client from the test thread let an answer the server had sent
 * go unnoticed now and then. Every request gives up after {@link #IDLE_TIMEOUT_MS} of silence, so
 * a server that died mid-answer fails the request instead of hanging the test.
 */
public final class TestClient {

  private static final long IDLE_TIMEOUT_MS = 10_000;

  /** One answer as the client saw it, body read to its end. */
  public record Answer(int status, MultiMap headers, Buffer body) {

    public String requestId() {
      return headers.get("X-Request-Id");
    }

    public JsonObject json() {
      return body.toJsonObject();
    }

    public JsonObject problem() {
      assertThat(headers.get("Content-Type")).as("content type of a %s answer", status)
          .isEqualTo("application/problem+json");
      return body.toJsonObject();
    }
  }

  private final HttpClientAgent client;
  private final Context context;
  private final int port;

  public TestClient(Vertx vertx, int port, int maxConnections) {
    this.port = port;
    this.context = vertx.getOrCreateContext();
    this.client = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(port),
        new PoolOptions().setHttp1MaxSize(maxConnections));
  }

  public int port() {
    return port;
  }

  /** Sends one request and reads its answer; call it on this client's context (see {@link #onContext}). */
  public Future<Answer> send(HttpMethod method, String uri) {
    return send(method, uri, MultiMap.caseInsensitiveMultiMap(), null);
  }

  /** Sends one request with these headers and body (none when null); call it on this client's context. */
  public Future<Answer> send(HttpMethod method, String uri, MultiMap headers, Buffer body) {
    return client.request(new RequestOptions().setMethod(method).setURI(uri).setIdleTimeout(IDLE_TIMEOUT_MS)
            .setHeaders(headers))
        .compose(request -> body == null ? request.send() : request.send(body))
        .compose(response -> response.body().map(answer -> new Answer(response.statusCode(), response.headers(), answer)));
  }

  /** From the test thread: one request with headers and body, waiting for its answer. */
  public Answer call(HttpMethod method, String uri, MultiMap headers, Buffer body) {
    Promise<Answer> answer = Promise.promise();
    context.runOnContext(v -> send(method, uri, headers, body).onComplete(answer));
    return Await.result(answer.future());
  }

  /** From the test thread: starts one request on this client's context, without waiting for its answer. */
  public Future<Answer> begin(HttpMethod method, String uri) {
    Promise<Answer> answer = Promise.promise();
    context.runOnContext(v -> send(method, uri).onComplete(answer));
    return answer.future();
  }

  /** From the test thread: one request, waiting for its answer. */
  public Answer call(HttpMethod method, String uri) {
    return Await.result(begin(method, uri));
  }

  public Answer get(String uri) {
    return call(HttpMethod.GET, uri);
  }

  /** From the test thread: starts {@code calls} on this client's context, without waiting for their outcome. */
  public <T> Future<T> startOnContext(Supplier<Future<T>> calls) {
    Promise<T> done = Promise.promise();
    context.runOnContext(v -> calls.get().onComplete(done));
    return done.future();
  }

  /** From the test thread: runs {@code calls} on this client's context and waits for their outcome. */
  public <T> T onContext(Supplier<Future<T>> calls) {
    Promise<T> done = Promise.promise();
    context.runOnContext(v -> calls.get().onComplete(done));
    return Await.result(done.future());
  }

  public Future<Void> close() {
    return client.close();
  }
}
