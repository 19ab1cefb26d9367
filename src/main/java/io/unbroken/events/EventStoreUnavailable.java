package io.unbroken.events;

/** The event store could not record an append (its database is unreachable, or it did not answer in time). */
public final class EventStoreUnavailable extends RuntimeException {

  public EventStoreUnavailable(String message) {
    super(message, null, false, false);
  }
}
