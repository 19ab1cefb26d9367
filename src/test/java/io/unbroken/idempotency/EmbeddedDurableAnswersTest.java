package io.unbroken.idempotency;

import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.vertx.core.Vertx;

class EmbeddedDurableAnswersTest extends DurableAnswersContract {

  @Override
  protected DurableAnswers createAnswers(Vertx vertx) {
    return new EmbeddedIdempotencyRecords();
  }
}
