package io.unbroken.idempotency;

/** A claim store could not be reached (as opposed to one that answered with an error). */
public final class ClaimStoreUnavailable extends RuntimeException {

  public ClaimStoreUnavailable(Throwable cause) {
    super(String.valueOf(cause.getMessage()), cause);
  }
}
