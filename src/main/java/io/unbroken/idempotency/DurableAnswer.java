package io.unbroken.idempotency;

import java.time.Duration;

/**
 * A completed answer as it is kept durably: a retry after Redis lost the key is replayed from it.
 * It is kept for {@code ttl} from when the durable store writes it, by that store's clock.
 */
public record DurableAnswer(String scopeKey, String fingerprint, StoredAnswer answer, String requestId,
    Duration ttl) {}
