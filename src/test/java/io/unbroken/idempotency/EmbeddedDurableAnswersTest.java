package io.unbroken.idempotency;

import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.vertx.core.Vertx;
import java.time.InstantSource;

class EmbeddedDurableAnswersTest extends DurableAnswersContract {

  @Override
  protected DurableAnswers createAnswers(Vertx vertx) {
    return new EmbeddedIdempotencyRecords(InstantSource.system());
  }
}
