package io.unbroken.config;

import io.unbroken.saga.Template;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A saga: a {@code POST} to {@code path} starts one with the request body as its input; its
 * {@code steps} run in order, and when one fails for good the steps before it are compensated in
 * reverse order. The client waits at most {@code timeout} for the end.
 */
public record SagaConfig(String name, String path, Duration timeout, Retry retry, Duration stepTimeout,
    Duration compensationDeadline, List<Step> steps) {

  public SagaConfig {
    steps = List.copyOf(steps);
  }

  /**
   * How calls that failed for now are tried again: actions up to {@code attempts} calls in all,
   * compensations until the saga's {@code compensationDeadline}; each wait is drawn at random
   * between 0 and {@code backoff} doubled per attempt, at most {@code maxBackoff} (full jitter).
   */
  public record Retry(int attempts, Duration backoff, Duration maxBackoff) {}

  /** A step: its action and, when it can be undone, its compensation. */
  public record Step(String name, Call action, Optional<Call> compensate) {}

  /** One HTTP call of a step; the URL, header values and body may hold placeholders. */
  public record Call(String method, Template url, Map<String, Template> headers, Optional<Template> body) {

    public Call {
      headers = Map.copyOf(headers);
    }
  }
}
