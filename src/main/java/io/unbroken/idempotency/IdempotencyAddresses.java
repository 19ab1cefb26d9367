package io.unbroken.idempotency;

/** Event-bus addresses of the idempotency capability. */
final class IdempotencyAddresses {

  /**
   * Published (clustered) when a key is completed, released or claimed in PostgreSQL: waiting
   * duplicates try again, filters learn the key.
   */
  static final String SETTLED = "unbroken.idempotency.settled";

  private IdempotencyAddresses() {}
}
