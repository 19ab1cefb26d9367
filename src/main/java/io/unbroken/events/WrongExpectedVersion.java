package io.unbroken.events;

/** An append's expectation did not hold: another writer moved the stream first. Nothing was written. */
public final class WrongExpectedVersion extends RuntimeException {

  private final String streamId;
  private final int actualVersion;

  public WrongExpectedVersion(String streamId, ExpectedVersion expected, int actualVersion) {
    super("stream " + streamId + " is at version " + actualVersion + ", the append expected " + expected, null,
        false, false);
    this.streamId = streamId;
    this.actualVersion = actualVersion;
  }

  public String streamId() {
    return streamId;
  }

  public int actualVersion() {
    return actualVersion;
  }
}
