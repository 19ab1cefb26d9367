package io.unbroken.zombie.redis;

import io.unbroken.platform.RedisConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.unbroken.zombie.StatusMonitors;
import io.unbroken.zombie.StatusMonitorsContract;
import io.vertx.core.Vertx;
import java.time.Duration;

/** The status monitor contract against the real Redis, under a key prefix of this run's own. */
class RedisStatusMonitorsIT extends StatusMonitorsContract {

  @Override
  protected StatusMonitors createStore(Vertx vertx, String testName) {
    var redis = TestServices.redis("monitors");
    return new RedisStatusMonitors(RedisConnector.create(vertx, redis), redis.keyPrefix());
  }

  @Override
  protected void letTimePass(Duration duration) {
    Await.pause(duration);
  }

  @Override
  protected String liveNode() {
    return "any-node";
  }
}
