package io.unbroken.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.unbroken.config.IdempotencyPolicy.Inflight;
import io.unbroken.config.IdempotencyPolicy.Mode;
import io.unbroken.config.RouteConfig.EventsMode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a node is configured with, and what an operator reads when the configuration is wrong:
 * every bad input is rejected with one line naming the file and line (or the variable or flag),
 * the full key, and what is wrong.
 */
class ConfigLoaderTest {

  /** The example of DESIGN.md section 6, with the one value inside { } that must be quoted. */
  static final String DESIGN_EXAMPLE = """
      server:   { host: 0.0.0.0, port: 8080 }
      admin:    { host: 0.0.0.0, port: 9090, token: "${UNBROKEN_ADMIN_TOKEN}" }
      redis:    { url: redis://127.0.0.1:6379 }                       # absent: embedded store
      postgres: { url: postgresql://postgres@127.0.0.1:5432/unbroken } # absent: embedded store
      node:     { datacenter: 0 }
      routes:
        - prefix: /api/payments
          upstream: http://127.0.0.1:8081
          methods: [POST, PUT, PATCH, DELETE]
          timeout: 5s
          maxBody: 1MiB
          events: sync                 # sync | async | off
          idempotency:
            mode: required             # required | optional | off
            ttl: 24h
            inflight: reject           # reject (409) | wait (coalesce)
            principal: header:X-Api-Key
      """;

  /** The smallest file the loader accepts: one route. */
  static final String ONE_ROUTE = """
      routes:
        - prefix: /api
          upstream: http://127.0.0.1:8081
      """;

  @TempDir
  Path dir;

  private final Map<String, String> environment = new HashMap<>();

  @Nested
  class Loads {

    @Test
    void anUpstreamPathLosesItsTrailingSlashSoPathsDoNotDoubleIt() {
      UnbrokenConfig config = load("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081/v1/
          """);

      assertThat(config.routes().get(0).upstream()).hasToString("http://127.0.0.1:8081/v1");
    }

    @Test
    void theDesignExampleIntoValidatedRecords() {
      environment.put("UNBROKEN_ADMIN_TOKEN", "s3cret");

      UnbrokenConfig config = load(DESIGN_EXAMPLE);

      assertThat(config.server().host()).isEqualTo("0.0.0.0");
      assertThat(config.server().port()).isEqualTo(8080);
      assertThat(config.server().drainTimeout()).as("default").isEqualTo(Duration.ofSeconds(30));
      assertThat(config.admin()).isEqualTo(new UnbrokenConfig.Admin("0.0.0.0", 9090, Optional.of("s3cret")));
      assertThat(config.redis()).contains(new UnbrokenConfig.Redis("redis://127.0.0.1:6379", "unbroken"));
      assertThat(config.postgres())
          .contains(new UnbrokenConfig.Postgres("postgresql://postgres@127.0.0.1:5432/unbroken", 8));
      assertThat(config.node()).isEqualTo(new UnbrokenConfig.Node(0, Duration.ofSeconds(5), Duration.ofSeconds(10),
          Duration.ofSeconds(2), Duration.ofMillis(500)));
      assertThat(config.cluster())
          .isEqualTo(new UnbrokenConfig.Cluster(false, "127.0.0.1", 5701, List.of("127.0.0.1")));
      assertThat(config.demo()).isEqualTo(new UnbrokenConfig.Demo(false, 8081));
      assertThat(config.embedded()).isFalse();
      assertThat(config.routes()).containsExactly(new RouteConfig(
          "/api/payments",
          URI.create("http://127.0.0.1:8081"),
          Set.of("POST", "PUT", "PATCH", "DELETE"),
          Duration.ofSeconds(5),
          1024 * 1024,
          EventsMode.SYNC,
          new IdempotencyPolicy(Mode.REQUIRED, Duration.ofHours(24), Inflight.REJECT, "header:X-Api-Key")));
    }

    @Test
    void anUnsetVariableAsTheWholeValueCountsAsAbsent() {
      UnbrokenConfig config = load(DESIGN_EXAMPLE.replace("admin:    { host: 0.0.0.0", "admin:    { host: 127.0.0.1"));

      assertThat(config.admin().token()).isEmpty();
    }

    @Test
    void variablesInsideAValueWithAndWithoutADefault() {
      String yaml = """
          routes:
            - prefix: /api
              upstream: http://${UPSTREAM_HOST:-127.0.0.1}:${UPSTREAM_PORT}
          """;
      environment.put("UPSTREAM_PORT", "9000");

      assertThat(load(yaml).routes().get(0).upstream()).isEqualTo(URI.create("http://127.0.0.1:9000"));

      environment.put("UPSTREAM_HOST", "payments.internal");

      assertThat(load(yaml).routes().get(0).upstream()).isEqualTo(URI.create("http://payments.internal:9000"));
    }

    @Test
    void anAsyncRouteWithItsHeartbeatAndKeep() {
      UnbrokenConfig config = load("""
          routes:
            - { prefix: /reports, upstream: "http://127.0.0.1:8081", async: { heartbeat: 10s, keep: 2h } }
            - { prefix: /exports, upstream: "http://127.0.0.1:8081", async: {} }
            - { prefix: /api, upstream: "http://127.0.0.1:8081" }
          """);

      assertThat(config.routes().get(0).async()).contains(new AsyncPolicy(Duration.ofSeconds(10), Duration.ofHours(2)));
      assertThat(config.routes().get(1).async()).as("defaults")
          .contains(new AsyncPolicy(Duration.ofSeconds(30), Duration.ofHours(1)));
      assertThat(config.routes().get(2).async()).isEmpty();
    }

    @Test
    void anIdleTimeoutForASilentUpstream() {
      UnbrokenConfig config = load("""
          routes:
            - { prefix: /reports, upstream: "http://127.0.0.1:8081", timeout: 2m, idleTimeout: 15s }
            - { prefix: /api, upstream: "http://127.0.0.1:8081" }
          """);

      assertThat(config.routes().get(0).idleTimeout()).contains(Duration.ofSeconds(15));
      assertThat(config.routes().get(1).idleTimeout()).as("none: only the route's timeout bounds it").isEmpty();
    }

    @Test
    void otherValuesAndTheirUnits() {
      UnbrokenConfig config = load("""
          server: { instances: 3, drainTimeout: 45s }
          node:
            datacenter: 31
            maxClockBackward: 250ms
            workerLease: 1m
            heartbeat: 30s
            maxClockOffset: 2s
          cluster:
            enabled: yes
            members: [10.0.0.1, 10.0.0.2]
          routes:
            - prefix: /orders/
              upstream: https://orders.internal
              methods: [get, Post]
              maxBody: 64KB
              events: ASYNC
              idempotency:
                mode: optional
                ttl: 7d
                inflight: wait
                principal: authorization
          """);

      assertThat(config.server().instances()).isEqualTo(3);
      assertThat(config.server().drainTimeout()).isEqualTo(Duration.ofSeconds(45));
      assertThat(config.node()).isEqualTo(new UnbrokenConfig.Node(31, Duration.ofMillis(250), Duration.ofMinutes(1),
          Duration.ofSeconds(30), Duration.ofSeconds(2)));
      assertThat(config.cluster().enabled()).isTrue();
      assertThat(config.cluster().members()).containsExactly("10.0.0.1", "10.0.0.2");
      assertThat(config.routes()).containsExactly(new RouteConfig(
          "/orders",
          URI.create("https://orders.internal"),
          Set.of("GET", "POST"),
          Duration.ofSeconds(30),
          64_000,
          EventsMode.ASYNC,
          new IdempotencyPolicy(Mode.OPTIONAL, Duration.ofDays(7), Inflight.WAIT, "authorization")));
    }

    @Test
    void everyIdempotencySetting() {
      UnbrokenConfig config = load("""
          idempotency: { expectedKeys: 5000000, falsePositiveRate: 0.001, writeBehind: 25ms }
          routes:
            - prefix: /pay
              upstream: http://127.0.0.1:8081
              idempotency:
                mode: required
                fingerprintHeaders: [Content-Type, X-Tenant]
                replayHeaders: [X-Order-Version]
                releaseOn: [409, 5xx]
                upstreamGrace: 1m
                unknown: hold
                maxAnswer: 64KiB
          """);

      assertThat(config.idempotency()).isEqualTo(new UnbrokenConfig.Idempotency(5_000_000, 0.001, Duration.ofMillis(25)));
      IdempotencyPolicy policy = config.routes().get(0).idempotency();
      assertThat(policy.fingerprintHeaders()).containsExactly("Content-Type", "X-Tenant");
      assertThat(policy.replayHeaders()).containsExactly("X-Order-Version");
      assertThat(policy.releaseOn().contains(409)).isTrue();
      assertThat(policy.releaseOn().contains(503)).isTrue();
      assertThat(policy.releaseOn().contains(429)).isFalse();
      assertThat(policy.upstreamGrace()).isEqualTo(Duration.ofMinutes(1));
      assertThat(policy.unknown()).isEqualTo(IdempotencyPolicy.Unknown.HOLD);
      assertThat(policy.maxAnswer()).isEqualTo(64 * 1024);
    }

    @Test
    void withoutAFileTheEmbeddedDefaultWithTheDemoUpstream() {
      UnbrokenConfig config = loader().load(Optional.empty(), Map.of());

      assertThat(config.embedded()).isTrue();
      assertThat(config.redis()).isEmpty();
      assertThat(config.postgres()).isEmpty();
      assertThat(config.server().port()).isEqualTo(8080);
      assertThat(config.admin().port()).isEqualTo(9090);
      assertThat(config.demo()).isEqualTo(new UnbrokenConfig.Demo(true, 8081));
      assertThat(config.routes()).containsExactly(new RouteConfig(
          "/",
          URI.create("http://127.0.0.1:8081"),
          Set.of(),
          Duration.ofSeconds(30),
          10 * 1024 * 1024,
          EventsMode.SYNC,
          new IdempotencyPolicy(Mode.OPTIONAL, Duration.ofHours(24), Inflight.REJECT, "header:X-Api-Key")));
    }

    @Test
    void theDemoRouteFollowsAMovedDemoPort() {
      UnbrokenConfig config = loader().load(Optional.empty(), Map.of("demo.port", "18081"));

      assertThat(config.routes()).singleElement()
          .extracting(RouteConfig::upstream).isEqualTo(URI.create("http://127.0.0.1:18081"));
    }

    @Test
    void aFileWithRoutesHasNoDemo() {
      UnbrokenConfig config = load(ONE_ROUTE);

      assertThat(config.demo().enabled()).isFalse();
      assertThat(config.routes()).extracting(RouteConfig::prefix).containsExactly("/api");
    }
  }

  /** Built-in defaults < file < UNBROKEN_* environment < command-line overrides. */
  @Nested
  class Sagas {

    @Test
    void aSagaWithItsStepsRetryAndDefaults() {
      UnbrokenConfig config = load(ONE_ROUTE + """
          sagas:
            - name: order
              path: /orders/
              timeout: 3s
              retry: { attempts: 5, backoff: 50ms, maxBackoff: 2s }
              steps:
                - name: reserve
                  action: { method: post, url: "http://127.0.0.1:8082/reservations", body: '{"sku": "${input./sku}"}' }
                  compensate:
                    method: DELETE
                    url: "http://127.0.0.1:8082/reservations/${steps.reserve.response.body/id}"
                    headers: { X-Reason: "order ${saga.id} undone" }
                - name: pay
                  action: { url: "http://127.0.0.1:8083/payments" }
          """);

      SagaConfig saga = config.sagas().get(0);
      assertThat(saga.path()).isEqualTo("/orders");
      assertThat(saga.retry()).isEqualTo(new SagaConfig.Retry(5, Duration.ofMillis(50), Duration.ofSeconds(2)));
      assertThat(saga.stepTimeout()).as("default").isEqualTo(Duration.ofSeconds(10));
      assertThat(saga.compensationDeadline()).as("default").isEqualTo(Duration.ofHours(1));
      assertThat(saga.steps()).extracting(SagaConfig.Step::name).containsExactly("reserve", "pay");
      assertThat(saga.steps().get(0).action().method()).isEqualTo("POST");
      assertThat(saga.steps().get(0).compensate().orElseThrow().headers()).containsKey("X-Reason");
      assertThat(saga.steps().get(1).compensate()).isEmpty();
    }

    @Test
    void theEmbeddedDefaultHasTheDemoSagaAndAConfiguredNodeNone() {
      assertThat(loader().load(Optional.empty(), Map.of()).sagas())
          .extracting(SagaConfig::path).containsExactly("/demo/checkout");
      assertThat(load(ONE_ROUTE).sagas()).isEmpty();
    }

    @Test
    void theExampleConfigurationLoadsWithItsSaga() {
      UnbrokenConfig config = loader().load(Optional.of(Path.of("conf/unbroken.yaml")), Map.of());

      assertThat(config.sagas()).extracting(SagaConfig::name).containsExactly("checkout");
      assertThat(config.sagas().get(0).steps().get(0).action().headers()).containsKey("X-Order");
    }

    @Test
    void anActionReadingALaterStepNamesItsLine() {
      assertThat(failure(ONE_ROUTE + """
          sagas:
            - name: order
              path: /orders
              steps:
                - name: reserve
                  action: { url: "http://h/r?p=${steps.pay.response.status}" }
                - name: pay
                  action: { url: "http://h/p" }
          """)).hasMessage(fileName() + ":9: sagas[0].steps[0].action.url: ${steps.pay.response.status} refers to step 'pay',"
              + " which has not answered when this runs (readable here: none)");
    }

    @Test
    void aCompensationReadingALaterStepOrAnUnknownOne() {
      assertThat(failure(ONE_ROUTE + """
          sagas:
            - name: order
              path: /orders
              steps:
                - name: reserve
                  action: { url: "http://h/r" }
                  compensate: { url: "http://h/r", body: '{"p": ${steps.pay.response.body/id}}' }
                - name: pay
                  action: { url: "http://h/p" }
          """).getMessage()).startsWith(fileName() + ":10: sagas[0].steps[0].compensate.body:")
          .contains("readable here: reserve");
    }

    @Test
    void badSagasNameTheirKey() {
      String steps = "    steps: [ { name: a, action: { url: 'http://h/a' } } ]\n";
      assertThat(failure(ONE_ROUTE + "sagas:\n  - { name: 'a b', path: /x }\n").getMessage())
          .contains("sagas[0].name: 'a b' must be letters");
      assertThat(failure(ONE_ROUTE + "sagas:\n  - name: a\n    path: /unbroken/sagas/a\n" + steps).getMessage())
          .contains("sagas[0].path: '/unbroken/sagas/a' is where Unbroken serves its status monitors");
      assertThat(failure(ONE_ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: []\n").getMessage())
          .contains("sagas[0].steps: missing");
      assertThat(failure(ONE_ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: [ { name: a, action: { url: 'ftp://h/a' } } ]\n")
          .getMessage()).contains("sagas[0].steps[0].action.url: 'ftp://h/a' must start with http:// or https://");
      assertThat(failure(ONE_ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: [ { name: a, action: { url: 'http://h/a',"
          + " headers: { Idempotency-Key: k } } } ]\n").getMessage()).contains("is set by Unbroken on every step call");
      assertThat(failure(ONE_ROUTE + "sagas:\n  - name: a\n    path: /x\n" + steps + "  - name: a\n    path: /y\n" + steps)
          .getMessage()).contains("sagas[1].name: 'a' is already the name of an earlier saga");
      assertThat(failure(ONE_ROUTE + "sagas:\n  - name: a\n    path: /x\n    retry: { backoff: 2s, maxBackoff: 1s }\n" + steps)
          .getMessage()).contains("sagas[0].retry.maxBackoff: 1000ms is less than backoff (2000ms)");
      assertThat(failure(ONE_ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: [ { name: a, action: { url: 'http://h/a' },"
          + " undo: {} } ]\n").getMessage()).contains("sagas[0].steps[0].undo: unknown key");
    }
  }

  @Nested
  class ServerLimits {

    @Test
    void limitsAreReadAndAnIdleTimeoutMustOutlastEveryRoutesTimeout() {
      UnbrokenConfig config = load("""
          server:
            maxConnections: 500
            limits: { maxRequestLine: 2048, maxHeaderSize: 16384, maxHeaders: 50, headTimeout: 5s, idleTimeout: 40s }
          """ + ONE_ROUTE);

      assertThat(config.server().limits()).isEqualTo(
          new UnbrokenConfig.Limits(2048, 16384, 50, Duration.ofSeconds(5), Duration.ofSeconds(40), 500));
      assertThat(load(ONE_ROUTE).server().limits()).isEqualTo(UnbrokenConfig.Limits.DEFAULTS);
      String file = fileName();
      assertThat(failure("server: { limits: { idleTimeout: 10s } }\n" + ONE_ROUTE)).hasMessage(file
          + ":1: server.limits.idleTimeout: 10000ms must be longer than every route's and saga's timeout; route /api waits"
          + " 30000ms for its answer, while its client's connection is idle");
      assertThat(failure("server: { limits: { maxHeaders: 2 } }\n" + ONE_ROUTE).getMessage())
          .contains("server.limits.maxHeaders: 2 is out of range 8..10000");
    }
  }

  @Nested
  class Tls {

    @Test
    void listenersAndRoutesReadTheirPemFiles() throws IOException {
      Path cert = Files.writeString(dir.resolve("cert.pem"), "cert");
      Path key = Files.writeString(dir.resolve("key.pem"), "key");
      UnbrokenConfig config = load("server: { tls: { cert: %s, key: %s } }\n".formatted(cert, key)
          + "admin: { tls: { cert: %s, key: %s, checkEvery: 0s } }\n".formatted(cert, key) + """
          routes:
            - prefix: /api
              upstream: https://10.0.0.5:8443
              tls: { ca: %s, serverName: payments.internal, cert: %s, key: %s }
          """.formatted(cert, cert, key));

      assertThat(config.server().tls()).contains(
          new UnbrokenConfig.Tls(cert, key, UnbrokenConfig.Tls.DEFAULT_CHECK_EVERY));
      assertThat(config.admin().tls()).contains(new UnbrokenConfig.Tls(cert, key, Duration.ZERO));
      assertThat(config.routes().get(0).tls()).contains(new UpstreamTls(Optional.of(cert),
          Optional.of("payments.internal"), Optional.of(cert), Optional.of(key)));
      assertThat(load(ONE_ROUTE).server().tls()).isEmpty();
    }

    @Test
    void aMissingFileAHalfClientPairOrTlsForPlainHttpIsNamed() throws IOException {
      Path cert = Files.writeString(dir.resolve("cert.pem"), "cert");
      String file = fileName();

      assertThat(failure("server: { tls: { cert: %s, key: /nowhere/key.pem } }\n".formatted(cert) + ONE_ROUTE))
          .hasMessage(file + ":1: server.tls.key: '/nowhere/key.pem' is not a readable file (looked at"
              + " /nowhere/key.pem)");
      assertThat(failure("admin: { tls: { cert: %s } }\n".formatted(cert) + ONE_ROUTE))
          .hasMessage(file + ":1: admin.tls.key: missing: the PEM private key of that certificate");
      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: https://10.0.0.5:8443
              tls: { cert: %s }
          """.formatted(cert))).hasMessage(file + ":4: routes[0].tls.cert: a client certificate needs both cert and"
          + " key (the key's PEM file and its certificate chain)");
      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://10.0.0.5:8080
              tls: { serverName: payments.internal }
          """)).hasMessage(file + ":4: routes[0].tls: is for an https:// upstream; http://10.0.0.5:8080 is reached in"
          + " plain HTTP");
    }
  }

  @Nested
  class ClosedAdmin {

    @Test
    void theAdminListensOnLoopbackByDefault() {
      assertThat(load(ONE_ROUTE).admin().host()).isEqualTo("127.0.0.1");
      assertThat(new ConfigLoader(environment::get).load(Optional.empty(), Map.of()).admin().host())
          .as("the embedded default").isEqualTo("127.0.0.1");
    }

    @Test
    void aReachableAdminWithoutATokenRefusesToStartUnlessSaidOnPurpose() {
      String file = fileName();

      assertThat(failure("admin: { host: 0.0.0.0 }\n" + ONE_ROUTE)).hasMessage(file + ":1: admin.host: '0.0.0.0' lets other"
          + " machines reach the admin API, which has no token: set admin.token (or UNBROKEN_ADMIN_TOKEN), or"
          + " admin.insecure: true to serve it open on purpose");
      assertThat(failure("admin: { host: 10.1.2.3 }\n" + ONE_ROUTE).getMessage()).contains("'10.1.2.3' lets other");
      assertThat(failure("admin: { host: admin.example }\n" + ONE_ROUTE).getMessage()).as("a name may resolve anywhere")
          .contains("lets other machines");
      assertThat(load("admin: { host: 0.0.0.0, token: t0ken }\n" + ONE_ROUTE).admin().token()).contains("t0ken");
      assertThat(load("admin: { host: 0.0.0.0, insecure: true }\n" + ONE_ROUTE).admin().host()).isEqualTo("0.0.0.0");
      assertThat(load("admin: { host: '::1' }\n" + ONE_ROUTE).admin().host()).isEqualTo("::1");
      assertThat(load("admin: { host: localhost }\n" + ONE_ROUTE).admin().host()).isEqualTo("localhost");
    }
  }

  @Nested
  class Precedence {

    private static final String FILE = """
        server: { port: 8000 }
        redis:
          url: redis://127.0.0.1:6379
          keyPrefix: from-file
        routes:
          - prefix: /api
            upstream: http://127.0.0.1:8081
        """;

    @Test
    void builtInDefaultsFillWhatTheFileLeavesOut() {
      UnbrokenConfig config = load(ONE_ROUTE);

      assertThat(config.server().host()).isEqualTo("0.0.0.0");
      assertThat(config.server().port()).isEqualTo(8080);
      assertThat(config.admin().port()).isEqualTo(9090);
      assertThat(config.redis()).isEmpty();
      assertThat(config.node().workerLease()).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void theFileOverridesBuiltInDefaults() {
      UnbrokenConfig config = load(FILE);

      assertThat(config.server().port()).isEqualTo(8000);
      assertThat(config.redis().orElseThrow().keyPrefix()).isEqualTo("from-file");
    }

    @Test
    void theEnvironmentOverridesTheFile() {
      environment.put("UNBROKEN_SERVER_PORT", "8100");
      environment.put("UNBROKEN_REDIS_KEY_PREFIX", "from-environment");

      UnbrokenConfig config = load(FILE);

      assertThat(config.server().port()).isEqualTo(8100);
      assertThat(config.redis().orElseThrow())
          .isEqualTo(new UnbrokenConfig.Redis("redis://127.0.0.1:6379", "from-environment"));
    }

    @Test
    void overridesOverrideTheEnvironment() {
      environment.put("UNBROKEN_SERVER_PORT", "8100");
      environment.put("UNBROKEN_REDIS_KEY_PREFIX", "from-environment");

      UnbrokenConfig config = loader().load(Optional.of(write(FILE)),
          Map.of("server.port", "8200", "redis.keyPrefix", "from-command-line"));

      assertThat(config.server().port()).isEqualTo(8200);
      assertThat(config.redis().orElseThrow().keyPrefix()).isEqualTo("from-command-line");
    }

    @Test
    void theEnvironmentAndOverridesApplyWithoutAFile() {
      environment.put("UNBROKEN_SERVER_PORT", "8100");

      UnbrokenConfig config = loader().load(Optional.empty(), Map.of("admin.port", "9100"));

      assertThat(config.server().port()).isEqualTo(8100);
      assertThat(config.admin().port()).isEqualTo(9100);
      assertThat(config.demo().enabled()).isTrue();
    }

    @Test
    void environmentNamesSplitCamelCase() {
      assertThat(ConfigLoader.environmentName("redis.keyPrefix")).isEqualTo("UNBROKEN_REDIS_KEY_PREFIX");
      assertThat(ConfigLoader.environmentName("server.port")).isEqualTo("UNBROKEN_SERVER_PORT");
      assertThat(ConfigLoader.environmentName("node.maxClockBackward")).isEqualTo("UNBROKEN_NODE_MAX_CLOCK_BACKWARD");
    }
  }

  /** One test per kind of bad input, each asserting the whole line an operator reads. */
  @Nested
  class Rejects {

    @Test
    void anUnknownTopLevelKeyAtItsLine() {
      String file = fileName();

      assertThat(failure("""
          servr:
            port: 8081
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
          """))
          .hasMessage(file + ":1: servr: unknown key (known here: admin, cluster, demo, eventStore, idempotency, node, postgres, redis,"
              + " routes, sagas, server)");
    }

    @Test
    void aMisspeltRoutesAsUnknownRatherThanAsMissingRoutes() {
      String file = fileName();

      assertThat(failure("""
          server: { port: 8000 }
          rotes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
          """))
          .hasMessage(file + ":2: rotes: unknown key (known here: admin, cluster, demo, eventStore, idempotency, node, postgres, redis,"
              + " routes, sagas, server)");
    }

    @Test
    void anUnknownKeyInsideARoute() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              retries: 3
          """))
          .hasMessage(file + ":4: routes[0].retries: unknown key (known here: allowEncodedSlash, async, events, idempotency, idleTimeout,"
              + " lock, maxBody, methods, prefix, timeout, tls, upstream)");
    }

    @Test
    void aMisspeltKeyBeforeTheChecksBetweenKeys() {
      String file = fileName();

      assertThat(failure("""
          node:
            workerLeas: 20s
            heartbeat: 6s
          """ + ONE_ROUTE))
          .hasMessage(file + ":2: node.workerLeas: unknown key (known here: datacenter, heartbeat, maxClockBackward,"
              + " maxClockOffset, workerLease)");
    }

    @Test
    void aValueWhereASectionIsExpected() {
      String file = fileName();

      assertThat(failure("server: 8080\n" + ONE_ROUTE))
          .hasMessage(file + ":1: server: expected a section of key: value lines, got the value '8080'");
    }

    @Test
    void aListWhereAValueIsExpected() {
      String file = fileName();

      assertThat(failure("""
          server:
            port:
              - 8080
              - 8081
          """ + ONE_ROUTE))
          .hasMessage(file + ":2: server.port: expected a single value, got a list");
    }

    @Test
    void aValueWhereAListIsExpected() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              methods: POST
          """))
          .hasMessage(file + ":4: routes[0].methods: expected a list (- item lines or [a, b]), got the value 'POST'");
    }

    @Test
    void aPortThatIsNotANumber() {
      String file = fileName();

      assertThat(failure("server:\n  port: abc\n" + ONE_ROUTE))
          .hasMessage(file + ":2: server.port: 'abc' is not a whole number");
    }

    @Test
    void aPortOutOfRange() {
      String file = fileName();

      assertThat(failure("admin: { port: 70000 }\n" + ONE_ROUTE))
          .hasMessage(file + ":1: admin.port: 70000 is out of range 0..65535");
    }

    @Test
    void theAdminPortEqualToTheServerPortNamingWhereItWasSet() {
      ConfigException e = failure(Optional.empty(), Map.of("admin.port", "8080"));

      assertThat(e).hasMessage(
          "command line: admin.port: is 8080, the same as server.port; the two listeners need different ports");
    }

    @Test
    void aDemoPortThatCollidesWithTheGateway() {
      ConfigException e = failure(Optional.empty(), Map.of("demo.port", "8080"));

      assertThat(e).hasMessage("command line: demo.port: is 8080; the demo upstream needs a port of its own, "
          + "other than server.port (8080) and admin.port (9090)");
    }

    @Test
    void anUpstreamWithAQuery() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081/v1?token=x
          """))
          .hasMessage(file + ":3: routes[0].upstream: 'http://127.0.0.1:8081/v1?token=x' must not have a query or"
              + " fragment: each request keeps its own");
    }

    @Test
    void aRouteTimeoutOverADay() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              timeout: 2d
          """))
          .hasMessage(file + ":4: routes[0].timeout: must be at most 24h");
    }

    @Test
    void aBatchDelayNoShorterThanTheAppendTimeout() {
      String file = fileName();

      assertThat(failure("""
          eventStore:
            maxDelay: 5s
            appendTimeout: 5s
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
          """))
          .hasMessage(file + ":2: eventStore.maxDelay: 5000ms must be shorter than eventStore.appendTimeout (5000ms),"
              + " or an append waiting for its batch times out before it is written");
    }

    @Test
    void aLockThatIsNotAPathTemplate() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              lock: accounts/{id}
          """))
          .hasMessage(file + ":4: routes[0].lock: 'accounts/{id}' is not a path template like /accounts/{id}");
    }

    @Test
    void anUnknownEventStoreKey() {
      String file = fileName();

      assertThat(failure("""
          eventStore:
            maxBatch: 10
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
          """))
          .hasMessage(file + ":2: eventStore.maxBatch: unknown key (known here: appendTimeout, asyncBacklog,"
              + " maxBatchEvents, maxDelay, maxInFlight, retention)");
    }

    @Test
    void aBadDuration() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              timeout: 5x
          """))
          .hasMessage(file + ":4: routes[0].timeout: '5x' is not a duration: write a whole number and a unit ms, s,"
              + " m, h or d (e.g. 250ms, 5s, 24h)");
    }

    @Test
    void aZeroTimeout() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              timeout: 0s
          """))
          .hasMessage(file + ":4: routes[0].timeout: must be more than 0");
    }

    @Test
    void aBadSize() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              maxBody: 1MB2
          """))
          .hasMessage(file + ":4: routes[0].maxBody: '1MB2' is not a size: write a whole number and a unit B, KiB,"
              + " MiB, GiB, KB, MB or GB (e.g. 1MiB)");
    }

    @Test
    void aMissingUpstreamAtTheRoute() {
      String file = fileName();

      assertThat(failure("""
          server: { port: 8000 }
          routes:
            - prefix: /api
              timeout: 5s
          """))
          .hasMessage(file + ":3: routes[0].upstream: missing: the URL requests matching /api are forwarded to,"
              + " e.g. http://127.0.0.1:8081");
    }

    @Test
    void anUpstreamThatIsNotHttp() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: ftp://127.0.0.1:8081
          """))
          .hasMessage(file + ":3: routes[0].upstream: 'ftp://127.0.0.1:8081' must be a URL with scheme http or https"
              + " and a host");
    }

    @Test
    void aStoreUrlWithTheWrongScheme() {
      String file = fileName();

      assertThat(failure("redis: { url: http://127.0.0.1:6379 }\n" + ONE_ROUTE))
          .hasMessage(file + ":1: redis.url: 'http://127.0.0.1:6379' must be a URL with scheme redis or rediss"
              + " and a host");
    }

    @Test
    void aPostgresUrlWithoutADatabase() {
      String file = fileName();

      assertThat(failure("postgres:\n  url: postgresql://postgres@127.0.0.1:5432\n" + ONE_ROUTE))
          .hasMessage(file + ":2: postgres.url: 'postgresql://postgres@127.0.0.1:5432' names no database"
              + " (add /dbname)");
    }

    @Test
    void aPrefixWithoutTheLeadingSlash() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: api/payments
              upstream: http://127.0.0.1:8081
          """))
          .hasMessage(file + ":2: routes[0].prefix: 'api/payments' must start with /");
    }

    @Test
    void aDuplicatePrefixAtTheSecondRoute() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
            - prefix: /api
              upstream: http://127.0.0.1:8082
          """))
          .hasMessage(file + ":4: routes[1].prefix: '/api' is already the prefix of an earlier route");
    }

    @Test
    void aBadEnumValue() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              events: maybe
          """))
          .hasMessage(file + ":4: routes[0].events: 'maybe' is not one of sync | async | off");
    }

    @Test
    void aBadHttpMethod() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              methods: [POST, FETCH]
          """))
          .hasMessage(file + ":4: routes[0].methods: 'FETCH' is not an HTTP method");
    }

    @Test
    void aBadPrincipal() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              idempotency:
                mode: required
                principal: cookie:session
          """))
          .hasMessage(file + ":6: routes[0].idempotency.principal: 'cookie:session' is not one of none | authorization"
              + " | header:<Header-Name>");
    }

    @Test
    void aBadReleasedStatus() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              idempotency:
                mode: required
                releaseOn: [409, 5xy]
          """))
          .hasMessage(file + ":6: routes[0].idempotency.releaseOn: '5xy' is neither a status code (409) nor a class (5xx)");
    }

    @Test
    void aTimeToLiveShorterThanTheLongestAttempt() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              timeout: 30s
              idempotency: { mode: required, ttl: 1m, upstreamGrace: 45s }
          """))
          .hasMessage(file + ":5: routes[0].idempotency: ttl (60000ms) must be at least timeout + upstreamGrace (75000ms),"
              + " the longest an attempt may run");
    }

    @Test
    void aBadReplayedHeaderName() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              idempotency:
                replayHeaders: ["X-Ok", "Bad Header"]
          """))
          .hasMessage(file + ":5: routes[0].idempotency.replayHeaders: 'Bad Header' is not an HTTP header name");
    }

    @Test
    void anIdleTimeoutOutOfRange() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - { prefix: /api, upstream: "http://127.0.0.1:8081", timeout: 5s, idleTimeout: 0s }
          """)).hasMessage(file + ":2: routes[0].idleTimeout: must be more than 0 and less than timeout (5000ms)");
      assertThat(failure("""
          routes:
            - { prefix: /api, upstream: "http://127.0.0.1:8081", timeout: 5s, idleTimeout: 5s }
          """)).hasMessageEndingWith("routes[0].idleTimeout: must be more than 0 and less than timeout (5000ms)");
    }

    @Test
    void anAsyncRouteThatCannotWork() {
      assertThat(failure("""
          routes:
            - { prefix: /r, upstream: "http://127.0.0.1:8081", async: { heartbeat: 500ms } }
          """)).hasMessageEndingWith("routes[0].async.heartbeat: must be at least 1s: clients poll the status monitor"
          + " that often");
      assertThat(failure("""
          routes:
            - prefix: /r
              upstream: http://127.0.0.1:8081
              async: { heartbeat: 5s }
              idempotency: { mode: required }
          """)).hasMessageEndingWith("routes[0].async: cannot be combined with idempotency or lock on one route yet;"
          + " split the route");
      assertThat(failure("""
          routes:
            - { prefix: /unbroken/monitors/x, upstream: "http://127.0.0.1:8081" }
          """)).hasMessageEndingWith("routes[0].prefix: '/unbroken/monitors/x' is where Unbroken serves its status"
          + " monitors");
    }

    @Test
    void aLockOnAnIdempotentRoute() {
      String file = fileName();

      assertThat(failure("""
          routes:
            - prefix: /api
              upstream: http://127.0.0.1:8081
              lock: /api/accounts/{id}
              idempotency: { mode: required }
          """))
          .hasMessage(file + ":4: routes[0].lock: cannot be combined with idempotency on one route yet; split the route"
              + " or drop one");
    }

    @Test
    void aFalsePositiveRateOutOfRange() {
      String file = fileName();

      assertThat(failure("""
          idempotency: { expectedKeys: 1000, falsePositiveRate: 1.5 }
          """ + ONE_ROUTE))
          .hasMessage(file + ":1: idempotency.falsePositiveRate: must be between 0 and 1 (exclusive), e.g. 0.01");
    }

    @Test
    void aWriteBehindLongerThanASecond() {
      String file = fileName();

      assertThat(failure("""
          idempotency: { writeBehind: 2s }
          """ + ONE_ROUTE))
          .hasMessage(file + ":1: idempotency.writeBehind: 2000ms is more than 1000ms: an answer Redis loses within"
              + " that time after it was given runs again");
    }

    @Test
    void aHeartbeatLongerThanHalfTheLease() {
      String file = fileName();

      assertThat(failure("""
          node:
            workerLease: 10s
            heartbeat: 6s
          """ + ONE_ROUTE))
          .hasMessage(file + ":3: node.heartbeat: 6000ms must be at most half of node.workerLease (10000ms) so one"
              + " missed beat does not lose the lease");
    }

    @Test
    void aDrainLongerThanARolloutWaits() {
      String file = fileName();

      assertThat(failure("""
          server:
            drainTimeout: 1h
          """ + ONE_ROUTE))
          .hasMessage(file + ":2: server.drainTimeout: 3600s is more than the 10 minutes a stopping node may take");
    }

    @Test
    void aZeroHeartbeat() {
      String file = fileName();

      assertThat(failure("""
          node:
            workerLease: 0s
            heartbeat: 0s
          """ + ONE_ROUTE))
          .hasMessage(file + ":2: node.workerLease: must be more than 0");
    }

    @Test
    void aKeyTwiceInOneSectionAtTheSecond() {
      String file = fileName();

      assertThat(failure("""
          server:
            port: 8000
            host: 127.0.0.1
            port: 8001
          """ + ONE_ROUTE))
          .hasMessage(file + ":4: server.port: appears twice in the same section");
    }

    @Test
    void invalidYamlAtTheLineOfTheProblem() {
      String file = fileName();

      assertThat(failure("""
          server:
            port: 8000
             host: 127.0.0.1
          """ + ONE_ROUTE))
          .hasMessage(file + ":3: not valid YAML: mapping values are not allowed here");
    }

    @Test
    void aCharacterYamlDoesNotAllowAtItsLine() {
      String file = fileName();

      assertThat(failure(ONE_ROUTE + "server: { host: \u0007 }\n"))
          .hasMessage(file + ":4: not valid YAML: the character U+0007 is not allowed");
    }

    @Test
    void nestingDeeperThanTheParserAllowsAtItsLine() {
      String file = fileName();

      assertThat(failure(ONE_ROUTE + "server:\n  host: " + "[".repeat(60) + "]".repeat(60) + "\n"))
          .hasMessage(file + ":5: not valid YAML: Nesting Depth exceeded max 50");
    }

    @Test
    void anAliasToTheSectionAroundIt() {
      String file = fileName();

      assertThat(failure("""
          server: &server
            port: 8000
            limits: *server
          """ + ONE_ROUTE))
          .hasMessage(file + ":3: server.limits: an alias (*name) here stands for a section or list around it, which"
              + " would hold itself without end");
    }

    @Test
    void aBareVariableInsideBracesWithAHint() {
      String file = fileName();

      assertThat(failure(DESIGN_EXAMPLE.replace("\"${UNBROKEN_ADMIN_TOKEN}\"", "${UNBROKEN_ADMIN_TOKEN}")))
          .hasMessage(file + ":2: not valid YAML: expected ',' or '}', but got { (inside { } or [ ], write a ${NAME}"
              + " value in quotes: \"${NAME}\")");
    }

    @Test
    void aFileThatIsNotAMapping() {
      String file = fileName();

      assertThat(failure("- server\n- routes\n"))
          .hasMessage(file + ":1: the file must be a mapping of sections (server:, routes:, ...)");
    }

    @Test
    void aFileWithoutRoutes() {
      String file = fileName();

      assertThat(failure("server:\n  port: 8000\n"))
          .hasMessage(file + ":1: routes: missing: at least one route (prefix and upstream) is needed");
    }

    @Test
    void aFileThatDoesNotExist() {
      Path missing = dir.resolve("nowhere.yaml");

      ConfigException e = failure(Optional.of(missing), Map.of());

      assertThat(e).hasMessage(missing + ": no such file");
    }

    @Test
    void anOverrideOfAKeyThatCannotBeSet() {
      ConfigException e = failure(Optional.empty(), Map.of("routes", "/api"));

      assertThat(e).hasMessage("command line: routes: cannot be set from the command line (settable: server.host,"
          + " server.port, server.instances, server.drainTimeout, admin.host, admin.port, admin.token, admin.insecure,"
          + " redis.url, redis.keyPrefix,"
          + " postgres.url, postgres.poolSize, node.datacenter, node.maxClockBackward, node.workerLease,"
          + " node.heartbeat, node.maxClockOffset, cluster.enabled, cluster.host, cluster.port, demo.enabled,"
          + " demo.port)");
    }

    @Test
    void aBadOverrideValue() {
      ConfigException e = failure(Optional.empty(), Map.of("demo.enabled", "maybe"));

      assertThat(e).hasMessage("command line: demo.enabled: 'maybe' is not true or false");
    }

    @Test
    void aBadValueFromTheEnvironmentNamingTheVariable() {
      environment.put("UNBROKEN_SERVER_PORT", "abc");

      assertThat(failure(ONE_ROUTE))
          .hasMessage("environment UNBROKEN_SERVER_PORT: server.port: 'abc' is not a whole number");
    }
  }

  private ConfigLoader loader() {
    return new ConfigLoader(environment::get);
  }

  private UnbrokenConfig load(String yaml) {
    return loader().load(Optional.of(write(yaml)), Map.of());
  }

  private ConfigException failure(String yaml) {
    return failure(Optional.of(write(yaml)), Map.of());
  }

  private ConfigException failure(Optional<Path> file, Map<String, String> overrides) {
    Throwable thrown = catchThrowable(() -> loader().load(file, overrides));
    assertThat(thrown).isInstanceOf(ConfigException.class);
    return (ConfigException) thrown;
  }

  /** The name every message starts with for the file {@link #write} writes. */
  private String fileName() {
    return dir.resolve("unbroken.yaml").toString();
  }

  private Path write(String yaml) {
    try {
      return Files.writeString(dir.resolve("unbroken.yaml"), yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
