package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What every claim store guarantees. Callers give durations only, and the store judges them by its
 * own clock, so the cases let real time pass (short leases and times to live) and poll, with a
 * deadline, for what must follow. The integration tests also run in a JVM whose wall clock is
 * hours ahead of the stores' and in one hours behind: a store that read the caller's clock would
 * lose keys at once or keep them for hours there. Each test uses keys of its own.
 */
@ExtendWith(VertxExtension.class)
public abstract class ClaimStoreContract {

  private static final Duration LEASE = Duration.ofSeconds(10);
  private static final Duration SHORT = Duration.ofMillis(600);
  private static final Duration TTL = Duration.ofHours(24);
  // How long a key that must free itself may take beyond its lease or time to live.
  private static final Duration SLACK = Duration.ofSeconds(10);
  private static final StoredAnswer ANSWER = new StoredAnswer(201,
      List.of(Map.entry("Location", "/orders/7"), Map.entry("Content-Type", "application/json")),
      Buffer.buffer("{\"id\":7}"));

  protected ClaimStore store;
  private Vertx vertx;
  private String scope;

  protected abstract ClaimStore createStore(Vertx vertx);

  @BeforeEach
  void freshStoreAndKey(Vertx vertx) {
    this.vertx = vertx;
    store = createStore(vertx);
    scope = UUID.randomUUID().toString().replace("-", "");
  }

  private ClaimTicket ticket(String owner, String fingerprint) {
    return ticket(owner, fingerprint, LEASE);
  }

  private ClaimTicket ticket(String owner, String fingerprint, Duration lease) {
    return new ClaimTicket(scope, fingerprint, owner, lease, TTL);
  }

  /** Claims until the claim is {@code wanted}, every 20 ms; fails after {@code within}. */
  private Future<Claim> claimUntil(ClaimTicket ticket, Predicate<Claim> wanted, Duration within) {
    Promise<Claim> found = Promise.promise();
    long deadline = System.nanoTime() + within.toNanos();
    claimAgain(ticket, wanted, deadline, found);
    return found.future();
  }

  private void claimAgain(ClaimTicket ticket, Predicate<Claim> wanted, long deadline, Promise<Claim> found) {
    store.claim(ticket).onFailure(found::fail).onSuccess(claim -> {
      if (wanted.test(claim)) {
        found.complete(claim);
      } else if (System.nanoTime() - deadline > 0) {
        found.fail("still " + claim + " at the deadline");
      } else {
        vertx.setTimer(20, t -> claimAgain(ticket, wanted, deadline, found));
      }
    });
  }

  private static Duration since(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  @Test
  void aFreeKeyIsClaimedAndADuplicateFindsItInFlightOrMismatched(VertxTestContext testContext) {
    List<Claim> claims = new ArrayList<>();
    store.claim(ticket("a", "fp")).onSuccess(claims::add)
        .compose(first -> store.claim(ticket("b", "fp"))).onSuccess(claims::add)
        .compose(second -> store.claim(ticket("c", "other"))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(claims.get(0)).isEqualTo(Claim.CLAIMED);
          assertThat(((Claim.InFlight) claims.get(1)).leaseLeft()).as("the lease left, by the store's clock")
              .isPositive().isLessThanOrEqualTo(LEASE).isGreaterThan(LEASE.minus(SLACK.dividedBy(2)));
          assertThat(claims.get(2)).isEqualTo(Claim.MISMATCH);
          testContext.completeNow();
        })));
  }

  @Test
  void theOwnerCompletesAndRetriesGetTheAnswerWithItsHeadersAndBody(VertxTestContext testContext) {
    List<Object> seen = new ArrayList<>();
    store.claim(ticket("a", "fp"))
        .compose(claimed -> store.complete(scope, "b", ANSWER, TTL)).onSuccess(seen::add)
        .compose(byOther -> store.complete(scope, "a", ANSWER, TTL)).onSuccess(seen::add)
        .compose(byOwner -> store.complete(scope, "a", StoredAnswer.UNKNOWN, TTL)).onSuccess(seen::add)
        .compose(again -> store.claim(ticket("c", "fp")))
        .onComplete(testContext.succeeding(retry -> testContext.verify(() -> {
          assertThat(seen).as("completed by another owner, by the owner, by the owner again").containsExactly(false, true, false);
          assertThat(retry).isInstanceOf(Claim.Completed.class);
          Claim.Completed completed = (Claim.Completed) retry;
          assertThat(completed.ttlLeft()).as("kept for its time to live from its completion, by the store's clock")
              .isLessThanOrEqualTo(TTL).isGreaterThan(TTL.minus(SLACK));
          StoredAnswer replayed = completed.answer();
          assertThat(replayed.status()).isEqualTo(201);
          assertThat(replayed.headers()).isEqualTo(ANSWER.headers());
          assertThat(replayed.body()).isEqualTo(ANSWER.body());
          testContext.completeNow();
        })));
  }

  @Test
  void aCompletedKeyWithAnotherPayloadIsAMismatch(VertxTestContext testContext) {
    store.claim(ticket("a", "fp"))
        .compose(claimed -> store.complete(scope, "a", ANSWER, TTL))
        .compose(completed -> store.claim(ticket("b", "other")))
        .onComplete(testContext.succeeding(claim -> testContext.verify(() -> {
          assertThat(claim).isEqualTo(Claim.MISMATCH);
          testContext.completeNow();
        })));
  }

  @Test
  void anUnknownOutcomeIsKeptAsSuch(VertxTestContext testContext) {
    store.claim(ticket("a", "fp"))
        .compose(claimed -> store.complete(scope, "a", StoredAnswer.UNKNOWN, TTL))
        .compose(completed -> store.claim(ticket("b", "fp")))
        .onComplete(testContext.succeeding(claim -> testContext.verify(() -> {
          assertThat(((Claim.Completed) claim).answer().isUnknown()).isTrue();
          testContext.completeNow();
        })));
  }

  @Test
  void anOperatorFreesAKeyKeptAsAnUnknownOutcomeAndNoOther(VertxTestContext testContext) {
    List<Object> seen = new ArrayList<>();
    store.claim(ticket("a", "fp"))
        .compose(claimed -> store.forgetUnknown(scope)).onSuccess(seen::add)
        .compose(inFlight -> store.complete(scope, "a", StoredAnswer.UNKNOWN, TTL))
        .compose(kept -> store.forgetUnknown(scope)).onSuccess(seen::add)
        .compose(freed -> store.claim(ticket("b", "fp"))).onSuccess(seen::add)
        .compose(claimed -> store.complete(scope, "b", ANSWER, TTL))
        .compose(answered -> store.forgetUnknown(scope)).onSuccess(seen::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(seen).as("in flight: not freed; unknown: freed; claimed again; answered: not freed")
              .containsExactly(false, true, Claim.CLAIMED, false);
          testContext.completeNow();
        })));
  }

  @Test
  void onlyTheOwnerReleasesAndAReleasedKeyIsFree(VertxTestContext testContext) {
    List<Claim> claims = new ArrayList<>();
    store.claim(ticket("a", "fp"))
        .compose(claimed -> store.release(scope, "b"))
        .compose(notOwner -> store.claim(ticket("c", "fp"))).onSuccess(claims::add)
        .compose(stillHeld -> store.release(scope, "a"))
        .compose(released -> store.claim(ticket("d", "other"))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(claims.get(0)).isInstanceOf(Claim.InFlight.class);
          assertThat(claims.get(1)).isEqualTo(Claim.CLAIMED);
          testContext.completeNow();
        })));
  }

  @Test
  void aLeaseThatRanOutFreesTheKeyAndItsOwnerCanNoLongerComplete(VertxTestContext testContext) {
    List<Object> seen = new ArrayList<>();
    long claimedAt = System.nanoTime();
    store.claim(ticket("a", "fp", SHORT))
        .compose(claimed -> store.claim(ticket("b", "fp"))).onSuccess(seen::add)
        .compose(held -> claimUntil(ticket("b", "fp"), Claim.CLAIMED::equals, SHORT.plus(SLACK)))
        .onSuccess(taken -> seen.add(since(claimedAt)))
        .compose(taken -> store.complete(scope, "a", ANSWER, TTL)).onSuccess(seen::add)
        .compose(late -> store.complete(scope, "b", ANSWER, TTL)).onSuccess(seen::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(seen.get(0)).as("held while its lease runs").isInstanceOf(Claim.InFlight.class);
          assertThat((Duration) seen.get(1)).as("free only once the lease ran out").isGreaterThanOrEqualTo(SHORT);
          assertThat(seen.subList(2, 4)).as("completed by the first owner, then by the new one").containsExactly(false, true);
          testContext.completeNow();
        })));
  }

  @Test
  void aRenewedLeaseKeepsTheKeyAndRenewingSkipsClaimsOfOthers(VertxTestContext testContext) {
    List<Claim> claims = new ArrayList<>();
    store.claim(ticket("a", "fp", SHORT))
        .compose(claimed -> store.renew(List.of(new ClaimStore.HeldClaim(scope, "a"),
            new ClaimStore.HeldClaim(scope + "-none", "a")), LEASE))
        .compose(renewed -> store.claim(ticket("b", "fp"))).onSuccess(claims::add)
        .compose(held -> store.renew(List.of(new ClaimStore.HeldClaim(scope, "intruder")), TTL))
        .compose(ignored -> store.claim(ticket("c", "fp"))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(((Claim.InFlight) claims.get(0)).leaseLeft()).as("renewed past its first lease")
              .isGreaterThan(SHORT).isLessThanOrEqualTo(LEASE);
          assertThat(((Claim.InFlight) claims.get(1)).leaseLeft()).as("not renewed by someone else")
              .isLessThanOrEqualTo(LEASE);
          testContext.completeNow();
        })));
  }

  @Test
  void aCompletedAnswerExpiresAfterItsTimeToLive(VertxTestContext testContext) {
    List<Object> seen = new ArrayList<>();
    long[] completedAt = new long[1];
    store.claim(ticket("a", "fp"))
        .onSuccess(claimed -> completedAt[0] = System.nanoTime())
        .compose(claimed -> store.complete(scope, "a", ANSWER, SHORT))
        .compose(completed -> store.claim(ticket("b", "fp"))).onSuccess(seen::add)
        .compose(replayed -> claimUntil(ticket("c", "other"), Claim.CLAIMED::equals, SHORT.plus(SLACK)))
        .onComplete(testContext.succeeding(freed -> testContext.verify(() -> {
          assertThat(seen.get(0)).as("replayed while it lives").isInstanceOf(Claim.Completed.class);
          assertThat(since(completedAt[0])).as("expired, even for another payload, only after its time to live")
              .isGreaterThanOrEqualTo(SHORT);
          testContext.completeNow();
        })));
  }

  @Test
  void ofManySimultaneousClaimsExactlyOneWins(VertxTestContext testContext) {
    int claimants = 200;
    List<Future<Claim>> claims = new ArrayList<>();
    for (int i = 0; i < claimants; i++) {
      claims.add(store.claim(ticket("owner-" + i, "fp")));
    }
    Future.all(claims).onComplete(testContext.succeeding(all -> testContext.verify(() -> {
      List<Claim> results = all.list();
      assertThat(results.stream().filter(Claim.CLAIMED::equals)).hasSize(1);
      assertThat(results.stream().filter(claim -> claim instanceof Claim.InFlight)).hasSize(claimants - 1);
      testContext.completeNow();
    })));
  }
}
