package io.unbroken.saga;

/** Event-bus addresses of the saga coordinator; both are local to a node. */
final class SagaAddresses {

  /** Starts a saga; the reply is the saga as it ended, or the failure to record its start. */
  static final String START = "unbroken.saga.start";
  /** Makes the coordinator renew its leases and take orphans now rather than at its next beat. */
  static final String LOOK_AROUND = "unbroken.saga.look-around";

  private SagaAddresses() {}
}
