package io.unbroken.saga;

/**
 * The saga the integration tests run: reserve, pay, ship on three ledgers; {@code "fail": "<step>"}
 * in the input makes that step's ledger refuse it for good.
 */
public final class SagaYaml {

  private SagaYaml() {}

  /** {@code sagas:} with the order saga at {@code /orders}. */
  public static String orderSaga(int ledgerPort, String timeout, String stepTimeout, String compensationDeadline) {
    return "sagas:\n" + saga("order", "/orders", ledgerPort, timeout, stepTimeout, compensationDeadline);
  }

  /** One item of {@code sagas:}: the three ledger steps under this name and path. */
  public static String saga(String name, String path, int ledgerPort, String timeout, String stepTimeout,
      String compensationDeadline) {
    StringBuilder yaml = new StringBuilder("""
          - name: %s
            path: %s
            timeout: %s
            stepTimeout: %s
            compensationDeadline: %s
            retry: { attempts: 3, backoff: 20ms, maxBackoff: 200ms }
            steps:
        """.formatted(name, path, timeout, stepTimeout, compensationDeadline));
    for (String[] step : new String[][] {{"reserve", "inventory"}, {"pay", "payments"}, {"ship", "shipping"}}) {
      String ledger = "http://127.0.0.1:" + ledgerPort + "/ledgers/" + step[1];
      yaml.append("""
                - name: %1$s
                  action:
                    url: "%2$s/entries"
                    body: '{"ref": "${saga.id}", "amount": ${input./amount}, "fail": ${input./fail%1$s:-false}}'
                  compensate:
                    url: "%2$s/reversals"
                    body: '{"ref": "${saga.id}"}'
          """.formatted(step[0], ledger));
    }
    return yaml.toString();
  }
}
