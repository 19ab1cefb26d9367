package io.unbroken.ids.redis;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.ids.WorkerLeaseStore;
import io.unbroken.ids.WorkerLeaseStoreContract;
import io.unbroken.platform.RedisConnector;
import io.unbroken.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;

/**
 * The lease contract against the real Redis. Every test has its own key prefix; the leases it
 * leaves behind expire on their own within {@link #LONG_TTL}.
 */
class RedisWorkerLeaseStoreIT extends WorkerLeaseStoreContract {

  private Vertx vertx;
  private Redis redis;

  @Override
  protected WorkerLeaseStore createStore(Vertx vertx, String testName) {
    this.vertx = vertx;
    UnbrokenConfig.Redis settings = TestServices.redis(getClass().getSimpleName() + ":" + testName);
    // The node's own client settings: the bare client's queue of 24 waiting requests would refuse
    // most of the contract's 200 simultaneous acquires before Redis saw them.
    redis = RedisConnector.create(vertx, settings);
    return new RedisWorkerLeaseStore(redis, settings.keyPrefix());
  }

  @Override
  protected Future<Void> letTimePass(Duration duration) {
    return vertx.timer(duration.toMillis()).mapEmpty();
  }

  @AfterEach
  void closeClient() {
    redis.close();
  }
}
