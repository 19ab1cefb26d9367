package io.unbroken.events;

import java.util.List;
import java.util.Locale;

/**
 * The events of one request's life, in stream {@code request-<id>}, and its state folded from them.
 * A request is accepted and forwarded together, then ends once: completed (the upstream answered),
 * failed (it could not be forwarded or the upstream failed), cancelled (by the client, a deadline,
 * an operator, a shutdown), or abandoned (its node died and the reaper ended it).
 * A retry answered from a stored idempotent answer is accepted and replayed, never forwarded.
 */
public final class RequestLifecycle {

  public static final String ACCEPTED = "RequestAccepted";
  public static final String FORWARDED = "RequestForwarded";
  public static final String COMPLETED = "RequestCompleted";
  public static final String FAILED = "RequestFailed";
  public static final String CANCELLED = "RequestCancelled";
  public static final String REPLAYED = "RequestReplayed";
  public static final String ABANDONED = "RequestAbandoned";
  /** Rows written without events name no request's stream; they take no version of any stream. */
  public static final String ROWS_STREAM = "request-rows";
  /**
   * The side rows that mark a {@code sync} request durably in flight: one rides its opening append,
   * its removal rides its terminal append, both on its own stream.
   */
  public static final String INFLIGHT_TABLE = "inflight_requests";

  /** Where a request stood. */
  public enum Status { UNKNOWN, ACCEPTED, FORWARDED, COMPLETED, FAILED, CANCELLED, REPLAYED, ABANDONED;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private RequestLifecycle() {}

  public static String streamOf(String requestId) {
    return "request-" + requestId;
  }

  /** The status after {@code events} (in stream order); UNKNOWN for none. */
  public static Status fold(List<RecordedEvent> events) {
    Status status = Status.UNKNOWN;
    for (RecordedEvent event : events) {
      status = switch (event.type()) {
        case ACCEPTED -> Status.ACCEPTED;
        case FORWARDED -> Status.FORWARDED;
        case COMPLETED -> Status.COMPLETED;
        case FAILED -> Status.FAILED;
        case CANCELLED -> Status.CANCELLED;
        case REPLAYED -> Status.REPLAYED;
        case ABANDONED -> Status.ABANDONED;
        default -> status;
      };
    }
    return status;
  }
}
