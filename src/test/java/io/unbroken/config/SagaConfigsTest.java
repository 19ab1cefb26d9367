package io.unbroken.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SagaConfigsTest {

  private static final String ROUTE = """
      routes:
        - { prefix: /api, upstream: "http://127.0.0.1:8081" }
      """;

  @TempDir
  Path dir;

  @Test
  void aSagaWithItsStepsRetryAndDefaults() {
    UnbrokenConfig config = load(ROUTE + """
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
    assertThat(new ConfigLoader(name -> null).load(Optional.empty(), Map.of()).sagas())
        .extracting(SagaConfig::path).containsExactly("/demo/checkout");
    assertThat(load(ROUTE).sagas()).isEmpty();
  }

  @Test
  void theExampleConfigurationLoadsWithItsSaga() {
    UnbrokenConfig config = new ConfigLoader(name -> null).load(Optional.of(Path.of("conf/unbroken.yaml")), Map.of());

    assertThat(config.sagas()).extracting(SagaConfig::name).containsExactly("checkout");
    assertThat(config.sagas().get(0).steps().get(0).action().headers()).containsKey("X-Order");
  }

  @Test
  void anActionReadingALaterStepNamesItsLine() {
    assertThat(failure(ROUTE + """
        sagas:
          - name: order
            path: /orders
            steps:
              - name: reserve
                action: { url: "http://h/r?p=${steps.pay.response.status}" }
              - name: pay
                action: { url: "http://h/p" }
        """)).hasMessage(file() + ":8: sagas[0].steps[0].action.url: ${steps.pay.response.status} refers to step 'pay',"
            + " which has not answered when this runs (readable here: none)");
  }

  @Test
  void aCompensationReadingALaterStepOrAnUnknownOne() {
    assertThat(failure(ROUTE + """
        sagas:
          - name: order
            path: /orders
            steps:
              - name: reserve
                action: { url: "http://h/r" }
                compensate: { url: "http://h/r", body: '{"p": ${steps.pay.response.body/id}}' }
              - name: pay
                action: { url: "http://h/p" }
        """).getMessage()).startsWith(file() + ":9: sagas[0].steps[0].compensate.body:")
        .contains("readable here: reserve");
  }

  @Test
  void badSagasNameTheirKey() {
    String steps = "    steps: [ { name: a, action: { url: 'http://h/a' } } ]\n";
    assertThat(failure(ROUTE + "sagas:\n  - { name: 'a b', path: /x }\n").getMessage())
        .contains("sagas[0].name: 'a b' must be letters");
    assertThat(failure(ROUTE + "sagas:\n  - name: a\n    path: /unbroken/sagas/a\n" + steps).getMessage())
        .contains("sagas[0].path: '/unbroken/sagas/a' is where Unbroken serves its status monitors");
    assertThat(failure(ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: []\n").getMessage())
        .contains("sagas[0].steps: missing");
    assertThat(failure(ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: [ { name: a, action: { url: 'ftp://h/a' } } ]\n")
        .getMessage()).contains("sagas[0].steps[0].action.url: 'ftp://h/a' must start with http:// or https://");
    assertThat(failure(ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: [ { name: a, action: { url: 'http://h/a',"
        + " headers: { Idempotency-Key: k } } } ]\n").getMessage()).contains("is set by Unbroken on every step call");
    assertThat(failure(ROUTE + "sagas:\n  - name: a\n    path: /x\n" + steps + "  - name: a\n    path: /y\n" + steps)
        .getMessage()).contains("sagas[1].name: 'a' is already the name of an earlier saga");
    assertThat(failure(ROUTE + "sagas:\n  - name: a\n    path: /x\n    retry: { backoff: 2s, maxBackoff: 1s }\n" + steps)
        .getMessage()).contains("sagas[0].retry.maxBackoff: 1000ms is less than backoff (2000ms)");
    assertThat(failure(ROUTE + "sagas:\n  - name: a\n    path: /x\n    steps: [ { name: a, action: { url: 'http://h/a' },"
        + " undo: {} } ]\n").getMessage()).contains("sagas[0].steps[0].undo: unknown key");
  }

  private UnbrokenConfig load(String yaml) {
    return new ConfigLoader(name -> null).load(Optional.of(write(yaml)), Map.of());
  }

  private ConfigException failure(String yaml) {
    Throwable thrown = catchThrowable(() -> load(yaml));
    assertThat(thrown).isInstanceOf(ConfigException.class);
    return (ConfigException) thrown;
  }

  private String file() {
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
