package io.unbroken.saga;

import io.unbroken.config.SagaConfig;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
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
import java.util.concurrent.atomic.AtomicReference;

/**
 * Makes the HTTP calls of saga steps, on the coordinator's event loop, with pooled keep-alive
 * connections like the gateway's upstream client, and judges each answer: 2xx succeeded; 408, 425,
 * 429, 5xx, a timeout or a broken connection may succeed if tried again (and may have acted:
 * the outcome is in doubt); any other answer is final.
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

  /** The key of one call: {@code <sagaId>:<step>:action} or {@code :compensate}. */
  static String keyOf(String sagaId, String step, boolean compensation) {
    return sagaId + ":" + step + ":" + (compensation ? "compensate" : "action");
  }

  Future<Attempt> call(SagaConfig saga, SagaConfig.Step step, boolean compensation, SagaState state) {
    SagaConfig.Call call = compensation ? step.compensate().orElseThrow() : step.action();
    RequestOptions options;
    Buffer body;
    try {
      options = options(call, state).putHeader(IDEMPOTENCY_KEY, keyOf(state.id(), step.name(), compensation))
          .putHeader("X-Fencing-Token", Long.toString(state.fence())).putHeader("X-Saga-Id", state.id());
      body = call.body().map(t -> Buffer.buffer(t.render(Template.Target.JSON_BODY, state.id(), state.input(),
          state.responses()))).orElse(null);
    } catch (Template.MissingValue | IllegalArgumentException e) {
      return Future.succeededFuture(new Attempt(Verdict.FAILED, false, "not sent: " + e.getMessage(), null));
    }
    if (body != null && !options.getHeaders().contains("Content-Type")) {
      options.putHeader("Content-Type", "application/json");
    }
    AtomicReference<HttpClientRequest> sent = new AtomicReference<>();
    Duration timeout = saga.stepTimeout();
    return client.request(options)
        .compose(request -> {
          sent.set(request);
          return body == null ? request.send() : request.send(body);
        })
        .compose(response -> response.body().map(received -> judge(response, received)))
        .timeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .recover(failure -> {
          HttpClientRequest request = sent.get();
          if (request != null) {
            request.reset(); // frees the connection of a call that never answered
          }
          String reason = failure instanceof TimeoutException ? "no answer within " + timeout.toMillis() + "ms"
              : "call failed: " + failure.getMessage();
          return Future.succeededFuture(new Attempt(Verdict.TRY_AGAIN, true, reason, null));
        });
  }

  private static RequestOptions options(SagaConfig.Call call, SagaState state) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.valueOf(call.method()))
        .setAbsoluteURI(call.url().render(Template.Target.URL, state.id(), state.input(), state.responses()));
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    call.headers().forEach((name, value) ->
        headers.add(name, value.render(Template.Target.HEADER, state.id(), state.input(), state.responses())));
    return options.setHeaders(headers);
  }

  private static Attempt judge(HttpClientResponse response, Buffer received) {
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
    if (status == 408 || status == 425 || status == 429 || status >= 500) {
      return new Attempt(Verdict.TRY_AGAIN, true, "answered " + status, answer);
    }
    return new Attempt(Verdict.FAILED, false, "answered " + status, answer);
  }

  private static Object body(HttpClientResponse response, Buffer received) {
    if (received.length() > MAX_RECORDED_BODY) {
      return new JsonObject().put("notRecorded", "body of " + received.length() + " bytes");
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
