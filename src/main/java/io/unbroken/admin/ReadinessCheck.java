package io.unbroken.admin;

import io.vertx.core.Future;
import java.util.function.Supplier;

/**
 * One thing {@code /health/ready} checks; the future fails with the reason when it is not ready,
 * and what it succeeds with, when a JSON object, is shown beside the check's status.
 * A check that is not {@code required} only degrades the node: it stays ready (the node still
 * serves, more slowly) and the check reports {@code degraded} with the reason.
 */
public record ReadinessCheck(String name, Supplier<Future<?>> probe, boolean required) {

  public ReadinessCheck(String name, Supplier<Future<?>> probe) {
    this(name, probe, true);
  }
}
