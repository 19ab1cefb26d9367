package io.unbroken.events;

/** What an append expects of its stream: anything, no events yet, or exactly this many. */
public sealed interface ExpectedVersion {

  ExpectedVersion ANY = new Any();
  ExpectedVersion NO_STREAM = new Exact(0);

  /** True when a stream now at {@code current} (0 = no events) may be appended to. */
  boolean allows(int current);

  static ExpectedVersion exactly(int version) {
    return new Exact(version);
  }

  record Any() implements ExpectedVersion {
    @Override
    public boolean allows(int current) {
      return true;
    }
  }

  record Exact(int version) implements ExpectedVersion {
    @Override
    public boolean allows(int current) {
      return current == version;
    }
  }
}
