package io.unbroken.saga;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sagas started and ended by outcome, step calls by kind and verdict, compensations, retries, the
 * review queue's depth and how long sagas take, tagged by saga name.
 */
public final class SagaMetrics {

  private final MeterRegistry registry;
  private final AtomicLong reviewDepth = new AtomicLong();

  public SagaMetrics(MeterRegistry registry) {
    this.registry = registry;
    Gauge.builder("unbroken.sagas.review.depth", reviewDepth, AtomicLong::get)
        .description("Sagas waiting for a person in the review queue (the whole cluster's, as of this node's last look)")
        .register(registry);
  }

  void started(String saga) {
    Counter.builder("unbroken.sagas.started").tag("saga", saga).description("Sagas started on this node")
        .register(registry).increment();
  }

  /** A saga reached {@code outcome} (completed, compensated or review) after {@code took}. */
  void ended(String saga, SagaStatus outcome, Duration took) {
    Counter.builder("unbroken.sagas.ended").tag("saga", saga).tag("outcome", outcome.label())
        .description("Sagas that reached an end or the review queue on this node").register(registry).increment();
    Timer.builder("unbroken.saga.duration").tag("saga", saga).tag("outcome", outcome.label())
        .description("From a saga's start to its end or the review queue").publishPercentileHistogram()
        .register(registry).record(took);
  }

  /** One step call: {@code kind} action or compensate, {@code verdict} succeeded, try-again or failed. */
  void call(String saga, boolean compensation, StepCalls.Verdict verdict) {
    Counter.builder("unbroken.saga.step.calls").tag("saga", saga).tag("kind", compensation ? "compensate" : "action")
        .tag("verdict", SagaState.label(verdict))
        .description("Saga step calls by kind and verdict").register(registry).increment();
  }

  void compensationStarted(String saga) {
    Counter.builder("unbroken.saga.compensations").tag("saga", saga)
        .description("Compensation calls begun (first attempts)").register(registry).increment();
  }

  void retry(String saga, boolean compensation) {
    Counter.builder("unbroken.saga.retries").tag("saga", saga).tag("kind", compensation ? "compensate" : "action")
        .description("Step calls made again after a failure that may pass").register(registry).increment();
  }

  void reviewDepth(long depth) {
    reviewDepth.set(depth);
  }
}
