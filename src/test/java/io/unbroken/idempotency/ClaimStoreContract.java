package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What every claim store guarantees. Times are passed in, so leases and expiry are tested by
 * moving "now" rather than by waiting. Each test uses keys of its own.
 */
@ExtendWith(VertxExtension.class)
public abstract class ClaimStoreContract {

  private static final Instant T0 = Instant.parse("2026-11-26T10:00:00Z");
  private static final Duration LEASE = Duration.ofSeconds(10);
  private static final Duration TTL = Duration.ofHours(24);
  private static final StoredAnswer ANSWER = new StoredAnswer(201,
      List.of(Map.entry("Location", "/orders/7"), Map.entry("Content-Type", "application/json")),
      Buffer.buffer("{\"id\":7}"));

  protected ClaimStore store;
  private String scope;

  protected abstract ClaimStore createStore(Vertx vertx);

  @BeforeEach
  void freshStoreAndKey(Vertx vertx) {
    store = createStore(vertx);
    scope = UUID.randomUUID().toString().replace("-", "");
  }

  private ClaimTicket ticket(String owner, String fingerprint, Instant now) {
    return new ClaimTicket(scope, fingerprint, owner, now, LEASE, now.plus(TTL));
  }

  @Test
  void aFreeKeyIsClaimedAndADuplicateFindsItInFlightOrMismatched(VertxTestContext testContext) {
    List<Claim> claims = new ArrayList<>();
    store.claim(ticket("a", "fp", T0)).onSuccess(claims::add)
        .compose(first -> store.claim(ticket("b", "fp", T0.plusSeconds(4)))).onSuccess(claims::add)
        .compose(second -> store.claim(ticket("c", "other", T0.plusSeconds(4)))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(claims).containsExactly(Claim.CLAIMED, new Claim.InFlight(Duration.ofSeconds(6)), Claim.MISMATCH);
          testContext.completeNow();
        })));
  }

  @Test
  void theOwnerCompletesAndRetriesGetTheAnswerWithItsHeadersAndBody(VertxTestContext testContext) {
    List<Object> seen = new ArrayList<>();
    store.claim(ticket("a", "fp", T0))
        .compose(claimed -> store.complete(scope, "b", ANSWER, T0.plus(TTL))).onSuccess(seen::add)
        .compose(byOther -> store.complete(scope, "a", ANSWER, T0.plus(TTL))).onSuccess(seen::add)
        .compose(byOwner -> store.complete(scope, "a", StoredAnswer.UNKNOWN, T0.plus(TTL))).onSuccess(seen::add)
        .compose(again -> store.claim(ticket("c", "fp", T0.plusSeconds(60))))
        .onComplete(testContext.succeeding(retry -> testContext.verify(() -> {
          assertThat(seen).as("completed by another owner, by the owner, by the owner again").containsExactly(false, true, false);
          assertThat(retry).isInstanceOf(Claim.Completed.class);
          StoredAnswer replayed = ((Claim.Completed) retry).answer();
          assertThat(replayed.status()).isEqualTo(201);
          assertThat(replayed.headers()).isEqualTo(ANSWER.headers());
          assertThat(replayed.body()).isEqualTo(ANSWER.body());
          testContext.completeNow();
        })));
  }

  @Test
  void aCompletedKeyWithAnotherPayloadIsAMismatch(VertxTestContext testContext) {
    store.claim(ticket("a", "fp", T0))
        .compose(claimed -> store.complete(scope, "a", ANSWER, T0.plus(TTL)))
        .compose(completed -> store.claim(ticket("b", "other", T0.plusSeconds(1))))
        .onComplete(testContext.succeeding(claim -> testContext.verify(() -> {
          assertThat(claim).isEqualTo(Claim.MISMATCH);
          testContext.completeNow();
        })));
  }

  @Test
  void anUnknownOutcomeIsKeptAsSuch(VertxTestContext testContext) {
    store.claim(ticket("a", "fp", T0))
        .compose(claimed -> store.complete(scope, "a", StoredAnswer.UNKNOWN, T0.plus(TTL)))
        .compose(completed -> store.claim(ticket("b", "fp", T0.plusSeconds(1))))
        .onComplete(testContext.succeeding(claim -> testContext.verify(() -> {
          assertThat(((Claim.Completed) claim).answer().isUnknown()).isTrue();
          testContext.completeNow();
        })));
  }

  @Test
  void onlyTheOwnerReleasesAndAReleasedKeyIsFree(VertxTestContext testContext) {
    List<Claim> claims = new ArrayList<>();
    store.claim(ticket("a", "fp", T0))
        .compose(claimed -> store.release(scope, "b"))
        .compose(notOwner -> store.claim(ticket("c", "fp", T0.plusSeconds(1)))).onSuccess(claims::add)
        .compose(stillHeld -> store.release(scope, "a"))
        .compose(released -> store.claim(ticket("d", "other", T0.plusSeconds(2)))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(claims).containsExactly(new Claim.InFlight(Duration.ofSeconds(9)), Claim.CLAIMED);
          testContext.completeNow();
        })));
  }

  @Test
  void aLeaseThatRanOutFreesTheKeyAndItsOwnerCanNoLongerComplete(VertxTestContext testContext) {
    List<Object> seen = new ArrayList<>();
    store.claim(ticket("a", "fp", T0))
        .compose(claimed -> store.claim(ticket("b", "fp", T0.plus(LEASE).plusMillis(1)))).onSuccess(seen::add)
        .compose(taken -> store.complete(scope, "a", ANSWER, T0.plus(TTL))).onSuccess(seen::add)
        .compose(late -> store.complete(scope, "b", ANSWER, T0.plus(TTL))).onSuccess(seen::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(seen).containsExactly(Claim.CLAIMED, false, true);
          testContext.completeNow();
        })));
  }

  @Test
  void aRenewedLeaseKeepsTheKeyAndRenewingSkipsClaimsOfOthers(VertxTestContext testContext) {
    List<Claim> claims = new ArrayList<>();
    store.claim(ticket("a", "fp", T0))
        .compose(claimed -> store.renew(List.of(new ClaimStore.HeldClaim(scope, "a"),
            new ClaimStore.HeldClaim(scope + "-none", "a")), T0.plusSeconds(30)))
        .compose(renewed -> store.claim(ticket("b", "fp", T0.plusSeconds(20)))).onSuccess(claims::add)
        .compose(held -> store.renew(List.of(new ClaimStore.HeldClaim(scope, "intruder")), T0.plusSeconds(90)))
        .compose(ignored -> store.claim(ticket("c", "fp", T0.plusSeconds(31)))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(claims).containsExactly(new Claim.InFlight(Duration.ofSeconds(10)), Claim.CLAIMED);
          testContext.completeNow();
        })));
  }

  @Test
  void aCompletedAnswerExpiresAfterItsTimeToLive(VertxTestContext testContext) {
    List<Claim> claims = new ArrayList<>();
    store.claim(ticket("a", "fp", T0))
        .compose(claimed -> store.complete(scope, "a", ANSWER, T0.plus(TTL)))
        .compose(completed -> store.claim(ticket("b", "fp", T0.plus(TTL).minusMillis(1)))).onSuccess(claims::add)
        .compose(replayed -> store.claim(ticket("c", "other", T0.plus(TTL)))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(claims.get(0)).isInstanceOf(Claim.Completed.class);
          assertThat(claims.get(1)).as("expired: free even for another payload").isEqualTo(Claim.CLAIMED);
          testContext.completeNow();
        })));
  }

  @Test
  void ofManySimultaneousClaimsExactlyOneWins(VertxTestContext testContext) {
    int claimants = 200;
    List<Future<Claim>> claims = new ArrayList<>();
    for (int i = 0; i < claimants; i++) {
      claims.add(store.claim(ticket("owner-" + i, "fp", T0)));
    }
    AtomicReference<List<Claim>> results = new AtomicReference<>();
    Future.all(claims).onComplete(testContext.succeeding(all -> testContext.verify(() -> {
      results.set(all.list());
      assertThat(results.get().stream().filter(Claim.CLAIMED::equals)).hasSize(1);
      assertThat(results.get().stream().filter(claim -> claim instanceof Claim.InFlight)).hasSize(claimants - 1);
      testContext.completeNow();
    })));
  }
}
