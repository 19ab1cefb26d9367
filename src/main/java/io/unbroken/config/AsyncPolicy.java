package io.unbroken.config;

import java.time.Duration;

/**
 * A route's answer to {@code Prefer: respond-async} (RFC 7240): {@code 202 Accepted} with a status
 * monitor. The client polls the monitor at least every {@code heartbeat}, or its request is taken
 * for a zombie and cancelled; a finished request's answer is kept for {@code keep}.
 */
public record AsyncPolicy(Duration heartbeat, Duration keep) {}
