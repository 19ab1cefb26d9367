package io.unbroken.locks;

/** The resource stayed locked by another request until this one's deadline. */
public final class LockTimeout extends RuntimeException {

  public LockTimeout(String resource) {
    super("resource " + resource + " stayed locked by another request", null, false, false);
  }
}
