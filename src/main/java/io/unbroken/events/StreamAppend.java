package io.unbroken.events;

import java.util.List;

/**
 * One unit of writing: events for one stream under an expectation, plus rows of other tables
 * that must commit in the same transaction or not at all (a completed idempotency record with its
 * {@code RequestCompleted} event). A unit of {@link #rowsOnly rows only} appends no event and
 * takes no stream version; it rides the group commit for rows that need no event.
 */
public record StreamAppend(String streamId, ExpectedVersion expected, List<NewEvent> events, List<SideRow> sideRows) {

  public StreamAppend {
    if (events.isEmpty() && (sideRows.isEmpty() || expected != ExpectedVersion.ANY)) {
      throw new IllegalArgumentException("an append needs at least one event, or side rows and no expectation");
    }
    events = List.copyOf(events);
    sideRows = List.copyOf(sideRows);
  }

  /** Rows written by the batching writer without any event; the result has no versions (0, 0). */
  public static StreamAppend rowsOnly(String streamId, List<SideRow> rows) {
    return new StreamAppend(streamId, ExpectedVersion.ANY, List.of(), rows);
  }

  /** What this unit counts for in a batch's size bound: its events, or one for rows only. */
  public int weight() {
    return Math.max(1, events.size());
  }

  public static StreamAppend of(String streamId, ExpectedVersion expected, NewEvent... events) {
    return new StreamAppend(streamId, expected, List.of(events), List.of());
  }
}
