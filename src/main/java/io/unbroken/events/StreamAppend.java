package io.unbroken.events;

import java.util.List;

/**
 * One unit of writing: events for one stream under an expectation, plus rows of other tables
 * that must commit in the same transaction or not at all (a completed idempotency record with its
 * {@code RequestCompleted} event).
 */
public record StreamAppend(String streamId, ExpectedVersion expected, List<NewEvent> events, List<SideRow> sideRows) {

  public StreamAppend {
    if (events.isEmpty()) {
      throw new IllegalArgumentException("an append needs at least one event");
    }
    events = List.copyOf(events);
    sideRows = List.copyOf(sideRows);
  }

  public static StreamAppend of(String streamId, ExpectedVersion expected, NewEvent... events) {
    return new StreamAppend(streamId, expected, List.of(events), List.of());
  }
}
