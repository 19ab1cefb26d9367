package io.unbroken.platform;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The node's PostgreSQL sessions on the real server: what they set for themselves. */
class PostgresConnectorIT {

  private Vertx vertx;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() {
    Await.result(vertx.close());
  }

  @Test
  void sessionsCompileNoPlanUnlessTheUrlAsks() {
    UnbrokenConfig.Postgres database = TestServices.freshDatabase("connector");
    String separator = database.url().contains("?") ? "&" : "?";
    UnbrokenConfig.Postgres asking = new UnbrokenConfig.Postgres(database.url() + separator + "options=-c%20jit%3Don",
        database.poolSize());

    assertThat(jitOf(database)).isEqualTo("off");
    assertThat(jitOf(asking)).isEqualTo("on");
  }

  private String jitOf(UnbrokenConfig.Postgres database) {
    Pool pool = PostgresConnector.create(vertx, database);
    try {
      return Await.result(pool.query("SHOW jit").execute()).iterator().next().getString(0);
    } finally {
      Await.result(pool.close());
    }
  }
}
