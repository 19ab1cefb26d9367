package io.unbroken.saga;

import io.unbroken.config.SagaConfig;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Makes the HTTP calls of saga steps, on the coordinator's event loop, with pooled keep-alive
 * connections like the gateway's upstream client, and judges each answer: 2xx succeeded; 408, 425,
 * 409 with Retry-After (an earlier attempt under the same key still running), 429, 5xx, a timeout or a broken
 * connection may succeed if tried again (and may have acted: the outcome is in doubt); any other
 * answer is final.
 */
final class StepCalls {

  /** The header every call carries, the same on every attempt and after a crash. */
  static final String IDEMPOTENCY_KEY = "Idempotency-Key";
  // Answers are kept in the saga's events; a larger body is recorded by its size only.
  private static final int MAX_RECORDED_BODY = 64 * 1024;
  private static final int MAX_CONNECTIONS_PER_ORIGIN = 64;

  /** How an attempt ended. */
  enum Verdict { SUCCEEDED, TRY_AGAIN, FAILED }

  /** An attempt's verdict, whether the service may have acted, why, and the answer when there was one. */
  record Attempt(Verdict verdict, boolean inDoubt, String reason, StepResponse response) {

    JsonObject answer() {
      return response == null ? null : response.toJson();
    }
  }

  private final HttpClientAgent client;

  StepCalls(Vertx vertx) {
    this.client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setPipelining(false)
            .setDecompressionSupported(false).setConnectTimeout(5_000),
        new PoolOptions().setHttp1MaxSize(MAX_CONNECTIONS_PER_ORIGIN));
  }

  Future<Void> close() {
    return client.close();
  }

  /**
   * The key of one call: {@code <sagaId>:<step>:action} or {@code :compensate}. A compensation an
   * operator sends again after it was refused gets {@code :<generation>} more: under its old key a
   * service would only replay the refusal.
   */
  static String keyOf(String sagaId, String step, boolean compensation, int generation) {
    String key = sagaId + ":" + step + ":" + (compensation ? "compensate" : "action");
    return compensation && generation > 0 ? key + ":" + generation : key;
  }

  Future<Attempt> call(SagaConfig saga, SagaConfig.Step step, boolean compensation, SagaState state) {
    SagaConfig.Call call = compensation ? step.compensate().orElseThrow() : step.action();
    Duration timeout = saga.stepTimeout();
    RequestOptions options;
    Buffer body;
    try {
      options = options(call, state).setConnectTimeout(timeout.toMillis())
          .putHeader(IDEMPOTENCY_KEY, keyOf(state.id(), step.name(), compensation, state.generation(step.name())))
          .putHeader("X-Fencing-Token", Long.toString(state.fence())).putHeader("X-Saga-Id", state.id());
      body = call.body().map(t -> Buffer.buffer(t.render(Template.Target.JSON_BODY, state.id(), state.input(),
          state.responses()))).orElse(null);
    } catch (RuntimeException e) {
      // A value the saga lacks, or a URL it makes that is not one: no attempt could do better.
      return Future.succeededFuture(new Attempt(Verdict.FAILED, false, "not sent: " + e.getMessage(), null));
    }
    if (body != null && !options.getHeaders().contains("Content-Type")) {
      options.putHeader("Content-Type", "application/json");
    }
    AtomicReference<HttpClientRequest> sent = new AtomicReference<>();
    AtomicBoolean gaveUp = new AtomicBoolean();
    return client.request(options)
        .compose(request -> {
          sent.set(request);
          if (gaveUp.get()) {
            // The attempt was recorded as failed while it waited for a connection: sending it now
            // could act after the saga moved on, even after its compensation.
            request.reset();
            return Future.failedFuture("given up before it was sent");
          }
          return body == null ? request.send() : request.send(body);
        })
        .compose(response -> bounded(response).map(received -> judge(response, received)))
        .timeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .recover(failure -> {
          gaveUp.set(true);
          HttpClientRequest request = sent.get();
          if (request != null) {
            request.reset(); // frees the connection of a call that never answered
          }
          String reason = failure instanceof TimeoutException ? "no answer within " + timeout.toMillis() + "ms"
              : "call failed: " + failure.getMessage();
          return Future.succeededFuture(new Attempt(Verdict.TRY_AGAIN, true, reason, null));
        });
  }

  /** The body, or null past {@link #MAX_RECORDED_BODY} bytes: the rest is read and dropped, not kept in memory. */
  private static Future<Received> bounded(HttpClientResponse response) {
    Promise<Received> read = Promise.promise();
    Buffer kept = Buffer.buffer();
    long[] bytes = {0};
    response.handler(chunk -> {
      bytes[0] += chunk.length();
      if (bytes[0] <= MAX_RECORDED_BODY) {
        kept.appendBuffer(chunk);
      }
    });
    response.exceptionHandler(read::tryFail);
    response.endHandler(end -> read.tryComplete(new Received(bytes[0] <= MAX_RECORDED_BODY ? kept : null, bytes[0])));
    return read.future();
  }

  /** A response body as far as it is kept: {@code body} null when it was too large to keep. */
  private record Received(Buffer body, long bytes) {}

  private static RequestOptions options(SagaConfig.Call call, SagaState state) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.valueOf(call.method()))
        .setAbsoluteURI(call.url().render(Template.Target.URL, state.id(), state.input(), state.responses()));
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    call.headers().forEach((name, value) ->
        headers.add(name, value.render(Template.Target.HEADER, state.id(), state.input(), state.responses())));
    return options.setHeaders(headers);
  }

  private static Attempt judge(HttpClientResponse response, Received received) {
    int status = response.statusCode();
    JsonObject headers = new JsonObject();
    response.headers().forEach(header -> {
      String name = header.getKey().toLowerCase(Locale.ROOT);
      if (!headers.containsKey(name)) {
        headers.put(name, header.getValue());
      }
    });
    StepResponse answer = new StepResponse(status, headers, body(response, received));
    if (status >= 200 && status < 300) {
      return new Attempt(Verdict.SUCCEEDED, false, "", answer);
    }
    // A 409 with Retry-After is what an idempotent front answers while an earlier attempt under
    // the same key still runs: that attempt may act, so this is no refusal.
    boolean inProgress = status == 409 && response.getHeader("Retry-After") != null;
    if (status == 408 || inProgress || status == 425 || status == 429 || status >= 500) {
      return new Attempt(Verdict.TRY_AGAIN, true, "answered " + status, answer);
    }
    return new Attempt(Verdict.FAILED, false, "answered " + status, answer);
  }

  private static Object body(HttpClientResponse response, Received whole) {
    Buffer received = whole.body();
    if (received == null) {
      return new JsonObject().put("notRecorded", "body of " + whole.bytes() + " bytes");
    }
    String type = response.getHeader("Content-Type");
    if (type != null && type.toLowerCase(Locale.ROOT).contains("json") && received.length() > 0) {
      try {
        return Json.decodeValue(received);
      } catch (DecodeException e) {
        return received.toString();
      }
    }
    return received.toString();
  }
}
