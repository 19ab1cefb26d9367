package io.unbroken.events;

/**
 * A place in the global order of all events: ordered by the id of the transaction that wrote
 * them, then by position within it. Transaction ids below the oldest transaction still running
 * can no longer gain events, so a reader that only reads below it never skips an event that
 * commits late; ordering by insert position alone would.
 */
public record GlobalCheckpoint(long transaction, long position) implements Comparable<GlobalCheckpoint> {

  public static final GlobalCheckpoint START = new GlobalCheckpoint(0, 0);

  @Override
  public int compareTo(GlobalCheckpoint other) {
    int byTransaction = Long.compare(transaction, other.transaction);
    return byTransaction != 0 ? byTransaction : Long.compare(position, other.position);
  }
}
