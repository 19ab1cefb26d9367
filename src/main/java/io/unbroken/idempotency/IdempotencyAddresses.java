package io.unbroken.idempotency;

/** Event-bus addresses of the idempotency capability. */
final class IdempotencyAddresses {

  /**
   * Published (clustered) when a key is completed, released or claimed in PostgreSQL: waiting
   * duplicates try again, filters learn the key.
   */
  static final String KEY_NOTICES = "unbroken.idempotency.noticed";

  private IdempotencyAddresses() {}
}
