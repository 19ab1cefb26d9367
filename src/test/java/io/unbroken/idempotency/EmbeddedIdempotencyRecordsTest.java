package io.unbroken.idempotency;

import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.vertx.core.Vertx;

class EmbeddedIdempotencyRecordsTest extends ClaimStoreContract {

  @Override
  protected ClaimStore createStore(Vertx vertx) {
    return new EmbeddedIdempotencyRecords();
  }
}
