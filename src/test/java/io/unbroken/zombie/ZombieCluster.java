package io.unbroken.zombie;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.TestUpstream;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The upstream and node configuration the multi-node zombie tests share. */
final class ZombieCluster {

  static final Duration ASYNC_HEARTBEAT = Duration.ofSeconds(2);

  private ZombieCluster() {}

  /**
   * {@code /long/...} and {@code /async/...} answer after {@code ?ms=} milliseconds, or never;
   * {@code /pay/...} hangs on a path's first attempt and answers 201 to every later one.
   */
  static void serveLongAndPay(Vertx vertx, TestUpstream upstream) {
    Handler<HttpServerRequest> answerLater = request -> {
      TestUpstream.Received record = upstream.recordOf(request);
      String ms = request.getParam("ms");
      if (ms != null) {
        vertx.setTimer(Long.parseLong(ms), t -> {
          if (!record.closedBeforeAnswer) {
            request.response().end("done " + request.path());
          }
        });
      }
    };
    upstream.on("/long", answerLater).on("/async", answerLater);
    Map<String, Integer> attempts = new ConcurrentHashMap<>();
    upstream.on("/pay", request -> {
      int attempt = attempts.merge(request.path(), 1, Integer::sum);
      if (attempt > 1) {
        request.response().setStatusCode(201).end("paid " + request.path() + " on attempt " + attempt);
      }
    });
  }

  /**
   * A clustered node on Redis and PostgreSQL routing sync {@code /long}, idempotent sync
   * {@code /pay} and {@code /async} (which answers {@code Prefer: respond-async}, heartbeat 2s).
   */
  static String nodeYaml(int port, int adminPort, Duration drainTimeout, UnbrokenConfig.Redis redis,
      UnbrokenConfig.Postgres postgres, Duration workerLease, Duration heartbeat, int clusterPort,
      List<Integer> clusterPorts, int upstreamPort) {
    String members = String.join(", ", clusterPorts.stream().map(p -> "\"127.0.0.1:" + p + "\"").toList());
    return """
        server:   { host: 127.0.0.1, port: %d, instances: 1, drainTimeout: %dms }
        admin:    { host: 127.0.0.1, port: %d }
        redis:    { url: "%s", keyPrefix: "%s" }
        postgres: { url: "%s", poolSize: 4 }
        node:     { workerLease: %dms, heartbeat: %dms }
        cluster:  { enabled: true, host: 127.0.0.1, port: %d, members: [%s] }
        demo:     { enabled: false }
        routes:
          - prefix: /long
            upstream: http://127.0.0.1:%d
            timeout: 60s
            events: sync
          - prefix: /pay
            upstream: http://127.0.0.1:%d
            timeout: 60s
            events: sync
            idempotency: { mode: required, inflight: reject, principal: none, unknown: retry }
          - prefix: /async
            upstream: http://127.0.0.1:%d
            timeout: 60s
            events: sync
            async: { heartbeat: %dms, keep: 1m }
        """.formatted(port, drainTimeout.toMillis(), adminPort, redis.url(), redis.keyPrefix(), postgres.url(),
        workerLease.toMillis(), heartbeat.toMillis(), clusterPort, members, upstreamPort, upstreamPort, upstreamPort,
        ASYNC_HEARTBEAT.toMillis());
  }
}
