package io.unbroken.zombie;

import io.unbroken.embedded.EmbeddedStatusMonitors;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Vertx;
import java.time.Duration;

/** The status monitor contract in process, on a clock the test moves. */
class EmbeddedStatusMonitorsTest extends StatusMonitorsContract {

  private final ManualClock clock = new ManualClock(System.currentTimeMillis());

  @Override
  protected StatusMonitors createStore(Vertx vertx, String testName) {
    return new EmbeddedStatusMonitors(clock);
  }

  @Override
  protected void letTimePass(Duration duration) {
    clock.advance(duration.toMillis());
  }

  @Override
  protected String liveNode() {
    return "this-node";
  }
}
