package io.unbroken.ids;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.ids.pg.PgStoreClock;
import io.unbroken.ids.redis.RedisStoreClock;
import io.unbroken.platform.PostgresConnector;
import io.unbroken.platform.RedisConnector;
import io.unbroken.testing.Await;
import io.unbroken.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Each node measures its wall clock's offset to the real Redis and PostgreSQL. The integration
 * tests run once in a JVM whose clock agrees with the stores' and again, under libfaketime, in
 * JVMs hours ahead and hours behind ({@code test.callerClockOffset}): this test also shows that the
 * shift really is in force there, so the store contracts run in those JVMs prove what they claim.
 */
class StoreClocksIT {

  private static final Duration MAX_OFFSET = Duration.ofMillis(500);
  // Loopback round trips and the machine's own timer: far below any offset that matters here.
  private static final double TOLERANCE_SECONDS = 0.25;

  private Vertx vertx;
  private SimpleMeterRegistry registry;
  private ClockOffsetVerticle offsets;

  @BeforeEach
  void deploy() {
    vertx = Vertx.vertx();
    registry = new SimpleMeterRegistry();
    List<StoreClock> stores = List.of(
        new RedisStoreClock(RedisConnector.create(vertx, TestServices.redis("clocks"))),
        new PgStoreClock(PostgresConnector.create(vertx, TestServices.freshDatabase("store_clocks"))));
    offsets = new ClockOffsetVerticle(stores, InstantSource.system(), MAX_OFFSET, Duration.ofSeconds(1), registry);
    Await.result(vertx.deployVerticle(offsets));
  }

  @AfterEach
  void close() {
    Await.result(vertx.close());
  }

  /** The stores' clock minus this JVM's, as the faketime setting of this run makes it. */
  private static double expectedOffsetSeconds() {
    String shift = System.getProperty("test.callerClockOffset", "+0s");
    return -Duration.parse("PT" + shift.replace("+", "").toUpperCase()).toSeconds();
  }

  private double gauge(String store) {
    return registry.get("unbroken.clock.offset").tag("store", store).gauge().value();
  }

  @Test
  void theOffsetToEachStoreIsMeasuredExportedAndJudgedAgainstTheBound() {
    double expected = expectedOffsetSeconds();
    Await.until("both offsets are measured", Duration.ofSeconds(20),
        () -> !Double.isNaN(gauge("redis")) && !Double.isNaN(gauge("postgres")));
    assertThat(gauge("redis")).as("offset to Redis (is faketime installed for the shifted runs?)")
        .isCloseTo(expected, within(TOLERANCE_SECONDS));
    assertThat(gauge("postgres")).as("offset to PostgreSQL").isCloseTo(expected, within(TOLERANCE_SECONDS));
    if (expected == 0) {
      JsonObject shown = Await.result(offsets.check());
      assertThat(shown.getDouble("redisOffsetSeconds")).isCloseTo(0, within(TOLERANCE_SECONDS));
      assertThat(shown.getDouble("postgresOffsetSeconds")).isCloseTo(0, within(TOLERANCE_SECONDS));
    } else {
      assertThat(Await.failure(offsets.check()).getMessage())
          .contains("clock offset to redis is " + (expected > 0 ? "+" : "-"))
          .contains("clock offset to postgres")
          .contains("more than node.maxClockOffset");
    }
  }
}
