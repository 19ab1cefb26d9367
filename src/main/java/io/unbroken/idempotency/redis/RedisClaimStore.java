package io.unbroken.idempotency.redis;

import io.unbroken.idempotency.Claim;
import io.unbroken.idempotency.ClaimStore;
import io.unbroken.idempotency.ClaimStoreUnavailable;
import io.unbroken.idempotency.ClaimTicket;
import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.platform.RedisScript;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Claims in Redis: one string per scope key, whose Redis expiry is the whole of its clock. An
 * attempt in flight is {@code i\n<owner>\n<fingerprint>}, kept for its lease, which the heartbeat
 * renews; a completed key is {@code c\n<fingerprint>\n<answer as JSON>}, kept for its time to live.
 * A lease that ran out or an answer past its time is gone, so a claim is one native
 * {@code SET NX PX GET}: it takes a free key or returns what holds it, with no script (a script
 * cost Redis five times the command's work, measured with {@code INFO commandstats}). Only the
 * owner's own changes (complete, release, renew) are short scripts that check the owner first.
 * Durations come from the caller; Redis alone decides when they end, so no node's wall clock
 * enters a decision. Keys carry the scope key in braces, so one key's records share a cluster slot.
 *
 * <p>Keys written by earlier versions are hashes (fields {@code s o f l e a}, lease end and
 * expiry in Redis's epoch ms). A claim that meets one reads it by {@link #CLAIM_OVER_HASH}, which
 * takes it over in the string form once it is stale; an earlier version meeting a string fails the
 * request (a type error) rather than running it twice.
 */
public final class RedisClaimStore implements ClaimStore {

  private static final String IN_FLIGHT = "i\n";
  private static final String COMPLETED = "c\n";

  // ARGV: the owner's in-flight prefix ("i\n<owner>\n"), answer, time to live (ms)
  private static final RedisScript COMPLETE = new RedisScript("""
      local v = redis.call('GET', KEYS[1])
      if not v or string.sub(v, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
      redis.call('SET', KEYS[1], 'c\\n' .. string.sub(v, #ARGV[1] + 1) .. '\\n' .. ARGV[2], 'PX', ARGV[3])
      return 1
      """);

  // ARGV: the owner's in-flight prefix
  private static final RedisScript RELEASE = new RedisScript("""
      local v = redis.call('GET', KEYS[1])
      if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
      return 0
      """);

  // ARGV: the owner's in-flight prefix, lease (ms)
  private static final RedisScript RENEW = new RedisScript("""
      local v = redis.call('GET', KEYS[1])
      if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
      return 0
      """);

  // A key kept as an unknown outcome holds an answer whose status is 0, in either form.
  private static final RedisScript FORGET_UNKNOWN = new RedisScript("""
      local answer
      if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
        local r = redis.call('HMGET', KEYS[1], 's', 'a')
        if r[1] == 'completed' then answer = r[2] end
      else
        local v = redis.call('GET', KEYS[1])
        if v and string.sub(v, 1, 2) == 'c\\n' then answer = string.sub(v, string.find(v, '\\n', 3, true) + 1) end
      end
      if answer and cjson.decode(answer)['status'] == 0 then return redis.call('DEL', KEYS[1]) end
      return 0
      """);

  // An earlier version's hash: classified as it was; once stale, replaced by the caller's claim.
  // ARGV: fingerprint, the in-flight value, lease (ms)
  private static final RedisScript CLAIM_OVER_HASH = new RedisScript(RedisScript.NOW_MILLIS + """
      local r = redis.call('HMGET', KEYS[1], 's', 'o', 'f', 'l', 'e', 'a')
      local live = r[1] and tonumber(r[5]) > now and (r[1] ~= 'in_flight' or tonumber(r[4]) > now)
      if live then
        if r[3] ~= ARGV[1] then return {'mismatch'} end
        if r[1] == 'in_flight' then return {'in_flight', tostring(tonumber(r[4]) - now), r[2]} end
        return {'completed', r[6], tostring(tonumber(r[5]) - now)}
      end
      redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
      return {'claimed'}
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
    String key = key(ticket.scopeKey());
    String inFlight = inFlightPrefix(ticket.owner()) + ticket.fingerprint();
    // A claim outlives neither its lease nor the key's time to live.
    long holdMillis = Math.min(ticket.lease().toMillis(), ticket.ttl().toMillis());
    return redis.send(Request.cmd(Command.SET).arg(key).arg(inFlight).arg("NX").arg("PX").arg(holdMillis).arg("GET"))
        .transform(set -> set.succeeded() ? held(key, ticket.fingerprint(), set.result())
            : isWrongType(set.cause()) ? claimOverHash(key, ticket, inFlight, holdMillis)
            : unreachableOrFailed(set.cause()));
  }

  /** What a claim found in the string form: nothing (claimed), or the record holding the key and how long it has left. */
  private Future<Claim> held(String key, String fingerprint, Response previous) {
    if (previous == null) {
      return Future.succeededFuture(Claim.CLAIMED);
    }
    String record = previous.toString();
    boolean inFlight = record.startsWith(IN_FLIGHT);
    int fingerprintStart = inFlight ? record.indexOf('\n', IN_FLIGHT.length()) + 1 : COMPLETED.length();
    int fingerprintEnd = inFlight ? record.length() : record.indexOf('\n', fingerprintStart);
    if (!fingerprint.equals(record.substring(fingerprintStart, fingerprintEnd))) {
      return Future.succeededFuture(Claim.MISMATCH);
    }
    // Only duplicates pay this second round trip; a key that vanished meanwhile has nothing left.
    return redis.send(Request.cmd(Command.PTTL).arg(key)).transform(ttl -> {
      if (ttl.failed()) {
        return unreachableOrFailed(ttl.cause());
      }
      Duration left = Duration.ofMillis(Math.max(0, ttl.result().toLong()));
      return Future.succeededFuture(inFlight
          ? new Claim.InFlight(left, record.substring(IN_FLIGHT.length(), fingerprintStart - 1))
          : new Claim.Completed(StoredAnswer.fromJson(new JsonObject(record.substring(fingerprintEnd + 1))), left));
    });
  }

  private Future<Claim> claimOverHash(String key, ClaimTicket ticket, String inFlight, long holdMillis) {
    return CLAIM_OVER_HASH.run(redis, List.of(key), List.of(ticket.fingerprint(), inFlight, Long.toString(holdMillis)))
        .transform(reply -> reply.succeeded() ? Future.succeededFuture(classifyHashReply(reply.result()))
            : unreachableOrFailed(reply.cause()));
  }

  @Override
  public Future<Boolean> complete(String scopeKey, String owner, StoredAnswer answer, Duration ttl) {
    return COMPLETE.run(redis, List.of(key(scopeKey)), List.of(inFlightPrefix(owner), answer.toJson().encode(),
            Long.toString(ttl.toMillis())))
        .map(reply -> reply.toInteger() == 1);
  }

  @Override
  public Future<Void> release(String scopeKey, String owner) {
    return RELEASE.run(redis, List.of(key(scopeKey)), List.of(inFlightPrefix(owner))).mapEmpty();
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
    claims.forEach(claim -> renewals.add(RENEW.request(List.of(key(claim.scopeKey())),
        List.of(inFlightPrefix(claim.owner()), leaseMillis))));
    return redis.batch(renewals).mapEmpty();
  }

  /**
   * A claim that failed: as {@link ClaimStoreUnavailable} when this Redis cannot take claims now
   * (no answer at all, or an error reply saying it is read-only, out of memory, without its master,
   * busy or still loading; the client fails a call the server answered with an error with that
   * reply itself), so that claims go to the fallback store; as it is otherwise.
   */
  private static <T> Future<T> unreachableOrFailed(Throwable failure) {
    boolean unavailable = !(failure instanceof Response)
        || UNAVAILABLE_ERRORS.stream().anyMatch(String.valueOf(failure.getMessage())::startsWith);
    return Future.failedFuture(unavailable ? new ClaimStoreUnavailable(failure) : failure);
  }

  private static boolean isWrongType(Throwable failure) {
    return failure instanceof Response && String.valueOf(failure.getMessage()).startsWith("WRONGTYPE");
  }

  /** The claim {@link #CLAIM_OVER_HASH} found. */
  private static Claim classifyHashReply(Response reply) {
    return switch (reply.get(0).toString()) {
      case "mismatch" -> Claim.MISMATCH;
      case "in_flight" -> new Claim.InFlight(Duration.ofMillis(reply.get(1).toLong()), reply.get(2).toString());
      case "completed" -> new Claim.Completed(StoredAnswer.fromJson(new JsonObject(reply.get(1).toString())),
          Duration.ofMillis(reply.get(2).toLong()));
      default -> Claim.CLAIMED;
    };
  }

  /** How an owner's in-flight record starts: what its own changes check before they change it. */
  private static String inFlightPrefix(String owner) {
    return IN_FLIGHT + owner + "\n";
  }

  private String key(String scopeKey) {
    return keyPrefix + ":{idem:" + scopeKey + "}";
  }
}
