package io.unbroken.events;

import java.util.List;

/** Where an append landed: the stream versions it took and the ids of its events. */
public record AppendResult(String streamId, int firstVersion, int lastVersion, List<Long> eventIds) {}
