package io.unbroken.events;

/** Event-bus addresses of the event store. */
final class EventsAddresses {

  /** Request/reply, local: a {@link StreamAppend} in, an {@link AppendOutcome} back. */
  static final String APPEND = "unbroken.events.append";

  /** Failure code of a reply when the whole batch could not be committed. */
  static final int STORAGE_FAILED = 503;

  private EventsAddresses() {}
}
