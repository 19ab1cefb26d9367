package io.unbroken.events;

import io.vertx.core.json.JsonObject;
import java.time.Instant;

/**
 * An event as stored: {@code streamVersion} counts from 1 within its stream, {@code checkpoint}
 * places it in the gap-safe global order, {@code hlc} is the hybrid logical clock value of its append.
 */
public record RecordedEvent(
    GlobalCheckpoint checkpoint,
    long id,
    String streamId,
    int streamVersion,
    String type,
    JsonObject data,
    JsonObject metadata,
    long hlc,
    Instant recordedAt) {}
