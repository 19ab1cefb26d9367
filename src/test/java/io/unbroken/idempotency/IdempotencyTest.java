package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.base.Ticker;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.unbroken.embedded.EmbeddedIdempotencyRecords;
import io.unbroken.events.SideRow;
import io.unbroken.ids.HybridLogicalClock;
import io.unbroken.testing.ManualClock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.net.ConnectException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
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

  private static final Duration MAX_OFFSET = Duration.ofSeconds(60);

  private final ManualClock clock = ManualClock.at("2026-11-26T10:00:00Z");

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
    public Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Duration ttl) {
      return refused();
    }

    @Override
    public Future<Void> release(String scopeKey, String owner) {
      return refused();
    }

    @Override
    public Future<Boolean> forgetUnknown(String scopeKey) {
      return refused();
    }

    @Override
    public Future<Void> renew(Collection<HeldClaim> claims, Duration lease) {
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
    public Future<Void> saveAll(List<DurableAnswer> answers) {
      return Future.succeededFuture();
    }

    @Override
    public Future<Optional<Claim>> find(String scopeKey, String fingerprint) {
      return Future.failedFuture("connection reset");
    }

    @Override
    public Future<Integer> purgeExpired() {
      return Future.succeededFuture(0);
    }

    @Override
    public Future<Void> forEachLiveKey(Consumer<List<String>> keys) {
      return Future.succeededFuture();
    }
  }

  private Idempotency idempotency(Vertx vertx, ClaimStore primary, Optional<ClaimStore> fallback,
      Optional<DurableAnswers> durable, KeyFilter filter) {
    return idempotency(vertx, primary, fallback, durable, filter, new HybridLogicalClock(clock, MAX_OFFSET.toMillis()));
  }

  private Idempotency idempotency(Vertx vertx, ClaimStore primary, Optional<ClaimStore> fallback,
      Optional<DurableAnswers> durable, KeyFilter filter, HybridLogicalClock hlc) {
    return new Idempotency(vertx, primary, fallback, durable, filter,
        new IdempotencyMetrics(new SimpleMeterRegistry()), Ticker.systemTicker(), hlc, LEASE);
  }

  private EmbeddedIdempotencyRecords records() {
    return new EmbeddedIdempotencyRecords(clock);
  }

  @Test
  void aFailedDurableLookupFailsThatClaimAloneAndFreesTheKey(Vertx vertx, VertxTestContext testContext) {
    KeyFilter filter = new KeyFilter(1000, 0.01);
    filter.add("key");
    Idempotency keys = idempotency(vertx, records(), Optional.of(records()),
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
    EmbeddedIdempotencyRecords durable = records();
    KeyFilter filter = new KeyFilter(1000, 0.01);
    filter.add("key");
    Idempotency keys = idempotency(vertx, records(), Optional.of(durable), Optional.of(durable),
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
    durable.claim(new ClaimTicket("key", "fp", "elsewhere", LEASE, Duration.ofHours(1)))
        .compose(held -> keys.claim(keys.ticket("key", "fp", "retry", Duration.ofHours(1))))
        .compose(found -> {
          testContext.verify(() -> assertThat(found).isInstanceOf(Claim.InFlight.class));
          ClaimTicket other = keys.ticket("other", "fp", "third", Duration.ofHours(1));
          return keys.claim(other).compose(claimed -> keys.release(other));
        })
        .onFailure(testContext::failNow);
  }

  @Test
  void anAnswerCompletedAndKeptIsStoredInTheDurableStoreToo(Vertx vertx, VertxTestContext testContext) {
    EmbeddedIdempotencyRecords primary = records();
    EmbeddedIdempotencyRecords durable = records();
    Idempotency keys = idempotency(vertx, primary, Optional.empty(), Optional.of(durable), new KeyFilter(1000, 0.01));
    ClaimTicket ticket = keys.ticket("key", "fp", "first", Duration.ofHours(1));
    StoredAnswer answer = new StoredAnswer(201, List.of(Map.entry("Location", "/orders/1")),
        Buffer.buffer("made"));
    keys.claim(ticket)
        .compose(claimed -> keys.completeAndKeep(ticket, answer, "request-1"))
        .compose(completed -> keys.flushDurable())
        .compose(flushed -> Future.all(primary.find("key", "fp"), durable.find("key", "fp")))
        .onComplete(testContext.succeeding(found -> testContext.verify(() -> {
          StoredAnswer inPrimary = ((Claim.Completed) found.<Optional<Claim>>resultAt(0).orElseThrow()).answer();
          StoredAnswer kept = ((Claim.Completed) found.<Optional<Claim>>resultAt(1).orElseThrow()).answer();
          assertThat(kept.status()).isEqualTo(201);
          assertThat(kept.headers()).isEqualTo(answer.headers());
          assertThat(kept.body()).isEqualTo(answer.body());
          assertThat(kept.hlc()).as("one stamp for both copies").isPositive().isEqualTo(inPrimary.hlc());
          testContext.completeNow();
        })));
  }

  @Test
  void anUnreachablePrimarySendsClaimsToTheFallbackUntilAHeartbeatFindsItAgain(Vertx vertx,
      VertxTestContext testContext) {
    EmbeddedIdempotencyRecords fallback = records();
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

  /**
   * Two nodes on one event bus, the sender's wall clock {@code senderAhead} ahead of the
   * receiver's: the receiver's next hybrid clock value after a key notice, against the notice's.
   */
  private void noticeFromANodeAhead(Vertx vertx, VertxTestContext testContext, Duration senderAhead,
      boolean followed) {
    ManualClock senderClock = new ManualClock(clock.millis() + senderAhead.toMillis());
    HybridLogicalClock senderHlc = new HybridLogicalClock(senderClock, MAX_OFFSET.toMillis());
    HybridLogicalClock receiverHlc = new HybridLogicalClock(clock, MAX_OFFSET.toMillis());
    EmbeddedIdempotencyRecords shared = records();
    Idempotency sender = idempotency(vertx, shared, Optional.empty(), Optional.of(shared), new KeyFilter(1000, 0.01),
        senderHlc);
    Idempotency receiver = idempotency(vertx, shared, Optional.empty(), Optional.of(shared), new KeyFilter(1000, 0.01),
        receiverHlc);
    vertx.eventBus().<JsonObject>consumer(IdempotencyAddresses.KEY_NOTICES, batch -> {
      receiver.onNotices(batch.body());
      long sent = batch.body().getLong("hlc");
      long next = receiverHlc.now();
      testContext.verify(() -> {
        if (followed) {
          assertThat(next).as("what the receiver records next orders after what the sender did").isGreaterThan(sent);
        } else {
          assertThat(HybridLogicalClock.physicalMillis(next)).as("a peer too far ahead is not followed")
              .isEqualTo(clock.millis());
          assertThat(receiverHlc.rejectedPeers()).isEqualTo(1);
        }
      });
      testContext.completeNow();
    }).completion()
        .compose(listening -> {
          ClaimTicket ticket = sender.ticket("key", "fp", "first", Duration.ofHours(1));
          return sender.claim(ticket).compose(claimed -> sender.complete(ticket, StoredAnswer.UNKNOWN));
        })
        .onFailure(testContext::failNow);
  }

  @Test
  void aKeyNoticeMovesTheReceiversHybridClockPastTheSendersOwn(Vertx vertx, VertxTestContext testContext) {
    noticeFromANodeAhead(vertx, testContext, Duration.ofSeconds(45), true);
  }

  @Test
  void aKeyNoticeFromANodeFurtherAheadThanTheMaximumOffsetIsCountedNotFollowed(Vertx vertx,
      VertxTestContext testContext) {
    noticeFromANodeAhead(vertx, testContext, Duration.ofHours(2), false);
  }
}
