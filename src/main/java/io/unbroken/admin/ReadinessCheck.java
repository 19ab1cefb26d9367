package io.unbroken.admin;

import io.vertx.core.Future;
import java.util.function.Supplier;

/** One thing {@code /health/ready} checks; the future fails with the reason when it is not ready. */
public record ReadinessCheck(String name, Supplier<Future<?>> probe) {}
