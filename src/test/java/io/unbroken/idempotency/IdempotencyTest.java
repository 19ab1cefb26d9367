package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.unbroken.events.SideRow;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.net.ConnectException;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * How the node's idempotency keys react to failing stores, with in-process stores and doubles that
 * fail on purpose (the real Redis and PostgreSQL cases are in RedisLossIT).
 */
@ExtendWith(VertxExtension.class)
class IdempotencyTest {

  private static final Duration LEASE = Duration.ofSeconds(10);

  private final ManualClock clock = new ManualClock(Instant.parse("2026-11-26T10:00:00Z").toEpochMilli());

  /** A primary that cannot be reached, as Redis when it is down. */
  private static final class UnreachableStore implements ClaimStore {
    private static <T> Future<T> refused() {
      return Future.failedFuture(new ClaimStoreUnavailable(new ConnectException("Connection refused")));
    }

    @Override
    public Future<Claim> claim(ClaimTicket ticket) {
      return refused();
    }

    @Override
    public Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Instant expiresAt) {
      return refused();
    }

    @Override
    public Future<Void> release(String scopeKey, String owner) {
      return refused();
    }

    @Override
    public Future<Void> renew(Collection<HeldClaim> claims, Instant leaseUntil) {
      return refused();
    }
  }

  /** Durable answers whose lookups fail, as PostgreSQL in a blip. */
  private static final class FailingLookups implements DurableAnswers {
    @Override
    public Optional<SideRow> sideRow(DurableAnswer answer) {
      return Optional.empty();
    }

    @Override
    public Future<Void> save(DurableAnswer answer) {
      return Future.succeededFuture();
    }

    @Override
    public Future<Optional<Claim>> find(String scopeKey, String fingerprint, Instant now) {
      return Future.failedFuture("connection reset");
    }

    @Override
    public Future<Integer> purgeExpired(Instant now) {
      return Future.succeededFuture(0);
    }

    @Override
    public Future<Void> forEachLiveKey(Instant now, Consumer<List<String>> keys) {
      return Future.succeededFuture();
    }
  }

  private Idempotency idempotency(Vertx vertx, ClaimStore primary, Optional<ClaimStore> fallback,
      Optional<DurableAnswers> durable, KeyFilter filter) {
    return new Idempotency(vertx, primary, fallback, durable, filter,
        new IdempotencyMetrics(new SimpleMeterRegistry()), clock, LEASE);
  }

  @Test
  void aFailedDurableLookupFailsThatClaimAloneAndFreesTheKey(Vertx vertx, VertxTestContext testContext) {
    KeyFilter filter = new KeyFilter(1000, 0.01);
    filter.add("key");
    Idempotency keys = idempotency(vertx, new EmbeddedIdempotencyRecords(), Optional.of(new EmbeddedIdempotencyRecords()),
        Optional.of(new FailingLookups()), filter);
    keys.claim(keys.ticket("key", "fp", "first", Duration.ofHours(1)))
        .transform(failed -> {
          testContext.verify(() -> assertThat(failed.failed()).as("the key was not checked: not forwarded").isTrue());
          return keys.claim(keys.ticket("other-key", "fp", "second", Duration.ofHours(1)));
        })
        .onComplete(testContext.succeeding(other -> testContext.verify(() -> {
          assertThat(other).isEqualTo(Claim.CLAIMED);
          assertThat(keys.degraded()).as("Redis answered: nothing to fail over from").isEmpty();
          testContext.completeNow();
        })));
  }

  @Test
  void aKeyFoundInFlightInPostgresqlIsGivenBackToRedisWithoutWakingItsWaiters(Vertx vertx,
      VertxTestContext testContext) {
    EmbeddedIdempotencyRecords durable = new EmbeddedIdempotencyRecords();
    KeyFilter filter = new KeyFilter(1000, 0.01);
    filter.add("key");
    Idempotency keys = idempotency(vertx, new EmbeddedIdempotencyRecords(), Optional.of(durable), Optional.of(durable),
        filter);
    // Notices arrive in the order they were published: when the other key's comes, any for "key" came before it.
    List<String> notices = new CopyOnWriteArrayList<>();
    vertx.eventBus().<JsonObject>consumer(IdempotencyAddresses.KEY_NOTICES, batch -> {
      for (Object item : batch.body().getJsonArray("notices")) {
        JsonObject notice = (JsonObject) item;
        notices.add(notice.getString("scope") + ":" + notice.getString("kind"));
      }
      if (notices.stream().anyMatch(notice -> notice.startsWith("other:"))) {
        testContext.verify(() -> assertThat(notices).as("only the key that changed hands").containsExactly("other:RELEASED"));
        testContext.completeNow();
      }
    });
    durable.claim(new ClaimTicket("key", "fp", "elsewhere", clock.instant(), LEASE, clock.instant().plus(Duration.ofHours(1))))
        .compose(held -> keys.claim(keys.ticket("key", "fp", "retry", Duration.ofHours(1))))
        .compose(found -> {
          testContext.verify(() -> assertThat(found).isInstanceOf(Claim.InFlight.class));
          ClaimTicket other = keys.ticket("other", "fp", "third", Duration.ofHours(1));
          return keys.claim(other).compose(claimed -> keys.release(other));
        })
        .onFailure(testContext::failNow);
  }

  @Test
  void anUnreachablePrimarySendsClaimsToTheFallbackUntilAHeartbeatFindsItAgain(Vertx vertx,
      VertxTestContext testContext) {
    EmbeddedIdempotencyRecords fallback = new EmbeddedIdempotencyRecords();
    Idempotency keys = idempotency(vertx, new UnreachableStore(), Optional.of(fallback), Optional.of(fallback),
        new KeyFilter(1000, 0.01));
    keys.claim(keys.ticket("key", "fp", "first", Duration.ofHours(1)))
        .compose(first -> {
          testContext.verify(() -> {
            assertThat(first).isEqualTo(Claim.CLAIMED);
            assertThat(keys.degraded()).isPresent();
          });
          return keys.claim(keys.ticket("key", "fp", "second", Duration.ofHours(1)));
        })
        .compose(duplicate -> {
          testContext.verify(() -> assertThat(duplicate).isInstanceOf(Claim.InFlight.class));
          return keys.heartbeat(Future::succeededFuture).otherwiseEmpty();
        })
        .onComplete(testContext.succeeding(beat -> testContext.verify(() -> {
          assertThat(keys.degraded()).as("the probe answered: back to the primary").isEmpty();
          testContext.completeNow();
        })));
  }
}
