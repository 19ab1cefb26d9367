package io.unbroken.events;

import io.vertx.core.Future;
import java.time.Instant;
import java.util.List;

/**
 * Durable, append-only streams of events.
 *
 * <p>Guarantees: an append is atomic with its side rows and checked against its expected version
 * (a failed expectation is a {@link WrongExpectedVersion} and writes nothing); versions within a
 * stream are 1, 2, 3... without gaps; {@link #readAll} returns every committed event exactly once
 * across calls that pass back the last checkpoint, even when transactions commit out of order.
 * Every method returns a future and never throws.
 */
public interface EventStore {

  Future<AppendResult> append(StreamAppend append);

  /** Events of a stream from {@code fromVersion} (1 = the first), recorded at or before {@code upTo}. */
  Future<List<RecordedEvent>> readStream(String streamId, int fromVersion, Instant upTo);

  /** Up to {@code limit} events after {@code after} in the global order, only those no longer able to be preceded. */
  Future<List<RecordedEvent>> readAll(GlobalCheckpoint after, int limit);
}
