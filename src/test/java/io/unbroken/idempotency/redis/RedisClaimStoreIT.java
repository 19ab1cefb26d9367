package io.unbroken.idempotency.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.idempotency.Claim;
import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.ClaimStoreContract;
import io.unbroken.idempotency.ClaimTicket;
import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.platform.RedisConnector;
import io.unbroken.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxTestContext;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The claim store contract against the real Redis, under a key prefix of this run's own; then the
 * keys an earlier version wrote as hashes, which a rolling upgrade leaves behind for their time to
 * live: read as they were, and taken over once stale.
 */
class RedisClaimStoreIT extends ClaimStoreContract {

  private static final Duration LEASE = Duration.ofSeconds(10);
  private static final Duration TTL = Duration.ofHours(1);
  private static final StoredAnswer ANSWER = new StoredAnswer(201, List.of(Map.entry("Location", "/orders/9")),
      Buffer.buffer("{\"id\":9}"));
  // The earlier version's record, its lease end and expiry set from Redis's clock as it set them.
  private static final String WRITE_HASH = """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      redis.call('HSET', KEYS[1], 's', ARGV[1], 'o', ARGV[2], 'f', ARGV[3], 'l', now + tonumber(ARGV[4]),
        'e', now + tonumber(ARGV[5]), 'a', ARGV[6])
      return 1
      """;

  private Redis redis;
  private String keyPrefix;

  @Override
  protected ClaimStore createStore(Vertx vertx) {
    var settings = TestServices.redis("claims");
    redis = RedisConnector.create(vertx, settings);
    keyPrefix = settings.keyPrefix();
    return new RedisClaimStore(redis, keyPrefix);
  }

  private Future<?> writeHash(String scope, String state, String owner, long leaseMillis, StoredAnswer answer) {
    return redis.send(Request.cmd(Command.EVAL).arg(WRITE_HASH).arg(1).arg(keyPrefix + ":{idem:" + scope + "}")
        .arg(state).arg(owner).arg("fp").arg(leaseMillis).arg(TTL.toMillis()).arg(answer.toJson().encode()));
  }

  private static ClaimTicket ticket(String scope, String owner, String fingerprint) {
    return new ClaimTicket(scope, fingerprint, owner, LEASE, TTL);
  }

  @Test
  void anEarlierVersionsKeysAreReadAsTheyWere(VertxTestContext testContext) {
    String completed = UUID.randomUUID().toString();
    String inFlight = UUID.randomUUID().toString();
    List<Claim> claims = new ArrayList<>();
    writeHash(completed, "completed", "old", 0, ANSWER)
        .compose(written -> writeHash(inFlight, "in_flight", "old", LEASE.toMillis(), StoredAnswer.UNKNOWN))
        .compose(written -> store.claim(ticket(completed, "new", "fp"))).onSuccess(claims::add)
        .compose(claim -> store.claim(ticket(completed, "new", "other"))).onSuccess(claims::add)
        .compose(claim -> store.claim(ticket(inFlight, "new", "fp"))).onSuccess(claims::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          Claim.Completed replay = (Claim.Completed) claims.get(0);
          assertThat(replay.answer().status()).isEqualTo(201);
          assertThat(replay.answer().body()).isEqualTo(ANSWER.body());
          assertThat(replay.ttlLeft()).isPositive().isLessThanOrEqualTo(TTL);
          assertThat(claims.get(1)).isEqualTo(Claim.MISMATCH);
          assertThat(((Claim.InFlight) claims.get(2)).owner()).isEqualTo("old");
          testContext.completeNow();
        })));
  }

  @Test
  void aStaleHashIsTakenOverAndItsNewOwnerCompletesIt(VertxTestContext testContext) {
    String scope = UUID.randomUUID().toString();
    List<Object> seen = new ArrayList<>();
    writeHash(scope, "in_flight", "dead", -1, StoredAnswer.UNKNOWN)
        .compose(written -> store.claim(ticket(scope, "new", "fp"))).onSuccess(seen::add)
        .compose(claimed -> store.complete(scope, "new", ANSWER, TTL)).onSuccess(seen::add)
        .compose(done -> store.claim(ticket(scope, "retry", "fp")))
        .onComplete(testContext.succeeding(retry -> testContext.verify(() -> {
          assertThat(seen).containsExactly(Claim.CLAIMED, true);
          assertThat(((Claim.Completed) retry).answer().status()).isEqualTo(201);
          testContext.completeNow();
        })));
  }

  @Test
  void anUnknownOutcomeAnEarlierVersionKeptIsForgotten(VertxTestContext testContext) {
    String scope = UUID.randomUUID().toString();
    writeHash(scope, "completed", "old", 0, StoredAnswer.UNKNOWN)
        .compose(written -> store.forgetUnknown(scope))
        .compose(forgotten -> store.claim(ticket(scope, "new", "fp")).map(claim -> List.of(forgotten, claim)))
        .onComplete(testContext.succeeding(seen -> testContext.verify(() -> {
          assertThat(seen).containsExactly(true, Claim.CLAIMED);
          testContext.completeNow();
        })));
  }
}
