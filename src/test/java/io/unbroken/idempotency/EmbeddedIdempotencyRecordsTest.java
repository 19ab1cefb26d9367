package io.unbroken.idempotency;

import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.vertx.core.Vertx;
import java.time.InstantSource;

class EmbeddedIdempotencyRecordsTest extends ClaimStoreContract {

  @Override
  protected ClaimStore createStore(Vertx vertx) {
    return new EmbeddedIdempotencyRecords(InstantSource.system());
  }
}
