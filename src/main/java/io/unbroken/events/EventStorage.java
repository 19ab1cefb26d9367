package io.unbroken.events;

import io.vertx.core.Future;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Where events are kept (PostgreSQL, or this process for the embedded default). Appends come in
 * batches that share one transaction and one commit; each append in a batch succeeds or fails on
 * its own (a wrong expected version fails that append, not its neighbours). The future fails as a
 * whole only when the batch could not be committed at all. Every method returns a future and never throws.
 */
public interface EventStorage {

  /** Outcomes in the order of {@code appends}. */
  Future<List<AppendOutcome>> appendBatch(List<StreamAppend> appends);

  Future<List<RecordedEvent>> readStream(String streamId, int fromVersion, Instant upTo);

  Future<List<RecordedEvent>> readAll(GlobalCheckpoint after, int limit);

  /**
   * Housekeeping by the store's clock, which stamped the events: prepares room for events to come
   * and forgets events recorded more than {@code retention} ago (whole time partitions at a time,
   * so possibly some later).
   */
  Future<Void> maintain(Duration retention);
}
