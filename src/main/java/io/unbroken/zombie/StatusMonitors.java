package io.unbroken.zombie;

import io.unbroken.idempotency.StoredAnswer;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.Optional;

/**
 * Where the status monitors of asynchronous requests live, so that any node answers a client's
 * poll. A poll is the client's heartbeat: it keeps the request alive for its {@code heartbeat}
 * more, by the store's clock; the node running the request asks whether it was heard and cancels
 * it when it was not. Every method returns a future and never throws.
 */
public interface StatusMonitors {

  /** Opens the monitor of a request {@code node} runs; the client's first poll is due within {@code heartbeat}. */
  Future<Void> open(String requestId, String node, Duration heartbeat, Duration keep);

  /**
   * A client's poll: a running request's heartbeat is extended if it had not lapsed yet. Empty
   * for a request without a monitor, or whose answer is no longer kept.
   */
  Future<Optional<Monitor>> poll(String requestId);

  /** True while the client's last poll is less than a heartbeat old. */
  Future<Boolean> heard(String requestId);

  /** The request was answered: the answer is kept for the monitor's {@code keep} from now. */
  Future<Void> answered(String requestId, StoredAnswer answer);

  /** The request ended without an answer, for {@code reason}; kept as long as an answer would be. */
  Future<Void> ended(String requestId, String reason);

  /** Forgets monitors past their {@code keep}; how many. */
  Future<Integer> purgeExpired();

  /** Where a request stands, as its monitor shows it. */
  enum State { RUNNING, ANSWERED, ENDED }

  /** A monitor as a poll finds it; {@code reason} says why an ENDED request has no answer. */
  record Monitor(String requestId, String node, State state, Duration heartbeat, Optional<StoredAnswer> answer,
      String reason) {}
}
