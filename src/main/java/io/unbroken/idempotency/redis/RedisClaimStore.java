package io.unbroken.idempotency.redis;

import io.unbroken.idempotency.Claim;
import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.ClaimStoreUnavailable;
import io.unbroken.idempotency.ClaimTicket;
import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.platform.RedisScript;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Claims in Redis: one hash per scope key ({@code s} state, {@code o} owner, {@code f}
 * fingerprint, {@code l} lease end and {@code e} expiry in epoch ms, {@code a} answer), changed
 * only by Lua scripts, so no step is a check-then-set. Keys carry the scope key in braces, so one
 * key's records share a cluster slot. Every lease end and expiry is Redis's own {@code TIME} plus
 * a duration the caller sends, and is compared with {@code TIME} again: a node's wall clock never
 * enters a decision. The hash also gets a Redis expiry, so Redis forgets it on its own.
 */
public final class RedisClaimStore implements ClaimStore {

  private static final String NOW = RedisScript.NOW_MILLIS;

  // Classifies the record at KEYS[1] for ARGV[1], the fingerprint.
  private static final String CLASSIFY = NOW + """
      local r = redis.call('HMGET', KEYS[1], 's', 'o', 'f', 'l', 'e', 'a')
      local live = r[1] and tonumber(r[5]) > now and (r[1] ~= 'in_flight' or tonumber(r[4]) > now)
      if live then
        if r[3] ~= ARGV[1] then return {'mismatch'} end
        if r[1] == 'in_flight' then return {'in_flight', tostring(tonumber(r[4]) - now), r[2]} end
        return {'completed', r[6], tostring(tonumber(r[5]) - now)}
      end
      """;

  // ARGV: fingerprint, owner, lease (ms), time to live (ms)
  private static final RedisScript CLAIM = new RedisScript(CLASSIFY + """
      local expiry = now + tonumber(ARGV[4])
      -- A new key (most claims) has no record to clear; a stale one may hold fields a claim does not set.
      if r[1] then redis.call('DEL', KEYS[1]) end
      redis.call('HSET', KEYS[1], 's', 'in_flight', 'f', ARGV[1], 'o', ARGV[2], 'l', now + tonumber(ARGV[3]), 'e', expiry)
      redis.call('PEXPIREAT', KEYS[1], expiry)
      return {'claimed'}
      """);

  // ARGV: owner, answer, time to live (ms)
  private static final RedisScript COMPLETE = new RedisScript(NOW + """
      local r = redis.call('HMGET', KEYS[1], 's', 'o')
      if r[1] ~= 'in_flight' or r[2] ~= ARGV[1] then return 0 end
      local expiry = now + tonumber(ARGV[3])
      redis.call('HSET', KEYS[1], 's', 'completed', 'a', ARGV[2], 'e', expiry)
      redis.call('PEXPIREAT', KEYS[1], expiry)
      return 1
      """);

  // ARGV: owner
  private static final RedisScript RELEASE = new RedisScript("""
      local r = redis.call('HMGET', KEYS[1], 's', 'o')
      if r[1] == 'in_flight' and r[2] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
      return 0
      """);

  private static final RedisScript FORGET_UNKNOWN = new RedisScript("""
      local r = redis.call('HMGET', KEYS[1], 's', 'a')
      if r[1] == 'completed' and r[2] and cjson.decode(r[2])['status'] == 0 then return redis.call('DEL', KEYS[1]) end
      return 0
      """);

  // ARGV: owner, lease (ms)
  private static final RedisScript RENEW = new RedisScript(NOW + """
      local r = redis.call('HMGET', KEYS[1], 's', 'o')
      if r[1] == 'in_flight' and r[2] == ARGV[1] then redis.call('HSET', KEYS[1], 'l', now + tonumber(ARGV[2])) return 1 end
      return 0
      """);

  // Error codes Redis puts first in the reply; they say the server cannot serve writes now.
  private static final List<String> UNAVAILABLE_ERRORS = List.of("READONLY", "OOM", "MASTERDOWN", "BUSY", "LOADING",
      "CLUSTERDOWN", "TRYAGAIN");

  private final Redis redis;
  private final String keyPrefix;

  public RedisClaimStore(Redis redis, String keyPrefix) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
  }

  @Override
  public Future<Claim> claim(ClaimTicket ticket) {
    return CLAIM.run(redis, List.of(key(ticket.scopeKey())), List.of(ticket.fingerprint(), ticket.owner(),
            Long.toString(ticket.lease().toMillis()), Long.toString(ticket.ttl().toMillis())))
        .recover(failure -> Future.failedFuture(unavailable(failure) ? new ClaimStoreUnavailable(failure) : failure))
        .map(RedisClaimStore::classify);
  }

  @Override
  public Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Duration ttl) {
    return COMPLETE.run(redis, List.of(key(scopeKey)), List.of(owner, answer.toJson().encode(),
            Long.toString(ttl.toMillis())))
        .map(reply -> reply.toInteger() == 1);
  }

  @Override
  public Future<Void> release(String scopeKey, String owner) {
    return RELEASE.run(redis, List.of(key(scopeKey)), List.of(owner)).mapEmpty();
  }

  @Override
  public Future<Boolean> forgetUnknown(String scopeKey) {
    return FORGET_UNKNOWN.run(redis, List.of(key(scopeKey)), List.of()).map(reply -> reply.toInteger() == 1);
  }

  @Override
  public Future<Void> renew(Collection<HeldClaim> claims, Duration lease) {
    if (claims.isEmpty()) {
      return Future.succeededFuture();
    }
    String leaseMillis = Long.toString(lease.toMillis());
    // One pipeline, led by the script itself in case the server lost it (restart, SCRIPT FLUSH).
    List<Request> renewals = new ArrayList<>();
    renewals.add(RENEW.loadRequest());
    claims.forEach(claim -> renewals.add(RENEW.request(List.of(key(claim.scopeKey())), List.of(claim.owner(), leaseMillis))));
    return redis.batch(renewals).mapEmpty();
  }

  /**
   * Whether a failed call means this Redis cannot take claims now: no answer at all, or an error
   * reply saying it is read-only, out of memory, without its master, busy or still loading (the
   * client fails a call the server answered with an error with that reply itself).
   */
  private static boolean unavailable(Throwable failure) {
    if (!(failure instanceof Response)) {
      return true;
    }
    String message = String.valueOf(failure.getMessage());
    return UNAVAILABLE_ERRORS.stream().anyMatch(message::startsWith);
  }

  /** The claim a script's reply describes. */
  private static Claim classify(Response reply) {
    String kind = reply.get(0).toString();
    return switch (kind) {
      case "mismatch" -> Claim.MISMATCH;
      case "in_flight" -> new Claim.InFlight(Duration.ofMillis(reply.get(1).toLong()), reply.get(2).toString());
      case "completed" -> new Claim.Completed(StoredAnswer.fromJson(new JsonObject(reply.get(1).toString())),
          Duration.ofMillis(reply.get(2).toLong()));
      default -> Claim.CLAIMED;
    };
  }

  private String key(String scopeKey) {
    return keyPrefix + ":{idem:" + scopeKey + "}";
  }
}
