package io.unbroken.idempotency;

import java.time.Duration;

/**
 * One attempt's claim on a key: the scope key (route, principal and key, hashed), the payload's
 * fingerprint, the attempt's owner token, how long the claim lives without a heartbeat and how
 * long a completed answer is kept. Both are durations, never instants: the store that holds the
 * key adds them to its own clock, so a node whose clock is off cannot shorten or stretch them.
 */
public record ClaimTicket(String scopeKey, String fingerprint, String owner, Duration lease, Duration ttl) {}
