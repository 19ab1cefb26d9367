package io.unbroken.idempotency.redis;

import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.ClaimStoreContract;
import io.unbroken.platform.RedisConnector;
import io.unbroken.testing.TestServices;
import io.vertx.core.Vertx;

/** The claim store contract against the real Redis, under a key prefix of this run's own. */
class RedisClaimStoreIT extends ClaimStoreContract {

  @Override
  protected ClaimStore createStore(Vertx vertx) {
    var redis = TestServices.redis("claims");
    return new RedisClaimStore(RedisConnector.create(vertx, redis), redis.keyPrefix());
  }
}
