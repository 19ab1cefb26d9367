package io.unbroken.ids;

import io.vertx.core.Future;
import java.time.Instant;

/** A store's wall clock, read over the network: the clock that judges every time the store holds. */
public interface StoreClock {

  /** The store's name as metrics and readiness show it. */
  String store();

  /** The store's time now; never throws. */
  Future<Instant> read();
}
