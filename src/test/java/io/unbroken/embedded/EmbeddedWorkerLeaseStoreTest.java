package io.unbroken.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.ids.WorkerLeaseStore;
import io.unbroken.ids.WorkerLeaseStoreContract;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The lease contract on a manual clock, plus the exact expiry instant the clock makes visible. */
class EmbeddedWorkerLeaseStoreTest extends WorkerLeaseStoreContract {

  private final ManualClock clock = ManualClock.at("2025-06-01T12:00:00Z");
  private final EmbeddedWorkerLeaseStore leases = new EmbeddedWorkerLeaseStore(clock);

  @Override
  protected WorkerLeaseStore createStore(Vertx vertx, String testName) {
    return leases;
  }

  @Override
  protected Future<Void> letTimePass(Duration duration) {
    clock.advance(duration.toMillis());
    return Future.succeededFuture();
  }

  @Test
  void aLeaseIsHeldUntilItsLastMillisecondAndFreeAtItsEnd(VertxTestContext testContext) {
    List<Object> seen = new ArrayList<>();
    leases.acquire(0, "owner", SHORT_TTL)
        .compose(id -> letTimePass(SHORT_TTL.minusMillis(1)))
        .compose(waited -> leases.acquire(0, "early", LONG_TTL))
        .onSuccess(seen::add)
        .compose(id -> letTimePass(Duration.ofMillis(1)))
        .compose(waited -> leases.renew(0, 0, "owner", LONG_TTL))
        .onSuccess(seen::add)
        .compose(renewed -> leases.acquire(0, "on-time", LONG_TTL))
        .onComplete(testContext.succeeding(onTime -> testContext.verify(() -> {
          assertThat(seen).as("id for another owner 1 ms before expiry, renewal at expiry").containsExactly(1, false);
          assertThat(onTime).as("id for another owner at expiry").isZero();
          testContext.completeNow();
        })));
  }
}
