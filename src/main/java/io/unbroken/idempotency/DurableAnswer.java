package io.unbroken.idempotency;

import java.time.Instant;

/** A completed answer as it is kept durably: a retry after Redis lost the key is replayed from it. */
public record DurableAnswer(String scopeKey, String fingerprint, StoredAnswer answer, String requestId,
    Instant completedAt, Instant expiresAt) {}
