package io.unbroken.zombie.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.ids.pg.PgWorkerLeaseStore;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.unbroken.zombie.StatusMonitors;
import io.unbroken.zombie.StatusMonitorsContract;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The status monitor contract against the real PostgreSQL, each test on a fresh database, with a
 * node that holds a live lease; and a running request whose node holds none shows as ended.
 */
class PgStatusMonitorsIT extends StatusMonitorsContract {

  private StatusMonitors monitors;

  @Override
  protected StatusMonitors createStore(Vertx vertx, String testName) {
    Pool pool = PostgresConnector.create(vertx,
        TestServices.migratedDatabase("monitors_" + testName.replaceAll("\\W", "_")));
    Await.result(new PgWorkerLeaseStore(pool).acquire(0, liveNode(), Duration.ofMinutes(5)));
    monitors = new PgStatusMonitors(pool);
    return monitors;
  }

  @Test
  void aRunningRequestOfANodeWithoutALeaseShowsAsEnded() {
    Await.result(monitors.open("r-orphan", "dead-node", HEARTBEAT, Duration.ofMinutes(1)));

    StatusMonitors.Monitor monitor = Await.result(monitors.poll("r-orphan")).orElseThrow();

    assertThat(monitor.state()).isEqualTo(StatusMonitors.State.ENDED);
    assertThat(monitor.reason()).isEqualTo("node-lost");
  }

  @Override
  protected void letTimePass(Duration duration) {
    Await.pause(duration);
  }

  @Override
  protected String liveNode() {
    return "live-node";
  }
}
