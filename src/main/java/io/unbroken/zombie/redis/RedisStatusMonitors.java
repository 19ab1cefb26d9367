package io.unbroken.zombie.redis;

import io.unbroken.idempotency.StoredAnswer;
import io.unbroken.platform.RedisScript;
import io.unbroken.zombie.StatusMonitors;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Status monitors as Redis hashes {@code <prefix>:{monitor:<id>}} ({@code n} node, {@code s}
 * state, {@code h} heartbeat and {@code k} keep in ms, {@code u} heard until in epoch ms,
 * {@code a} answer, {@code r} reason), changed only by Lua scripts that read Redis's own
 * {@code TIME}; Redis forgets a monitor when its keep ends. Used where Redis is configured without
 * PostgreSQL; unlike PostgreSQL it cannot tell that a running request's node died, so such a
 * monitor shows running until its keep ends.
 */
public final class RedisStatusMonitors implements StatusMonitors {

  private static final String NOW = RedisScript.NOW_MILLIS;

  // ARGV: node, heartbeat (ms), keep (ms)
  private static final RedisScript OPEN = new RedisScript(NOW + """
      redis.call('DEL', KEYS[1])
      redis.call('HSET', KEYS[1], 'n', ARGV[1], 's', 'running', 'h', ARGV[2], 'k', ARGV[3], 'u', now + tonumber(ARGV[2]))
      redis.call('PEXPIRE', KEYS[1], ARGV[3])
      return 1
      """);

  // A running request stays kept at least its keep from its last poll, as long as it runs.
  private static final RedisScript POLL = new RedisScript(NOW + """
      local r = redis.call('HMGET', KEYS[1], 'n', 's', 'h', 'k', 'u', 'a', 'r')
      if not r[1] then return nil end
      if r[2] == 'running' then
        if tonumber(r[5]) > now then redis.call('HSET', KEYS[1], 'u', now + tonumber(r[3])) end
        if redis.call('PTTL', KEYS[1]) < tonumber(r[4]) then redis.call('PEXPIRE', KEYS[1], r[4]) end
      end
      return {r[1], r[2], r[3], r[6] or '', r[7] or ''}
      """);

  private static final RedisScript HEARD = new RedisScript(NOW + """
      local u = redis.call('HGET', KEYS[1], 'u')
      if u and tonumber(u) > now then return 1 end
      return 0
      """);

  // ARGV: state, answer (JSON or empty), reason
  private static final RedisScript SETTLE = new RedisScript("""
      local r = redis.call('HMGET', KEYS[1], 's', 'k')
      if r[1] ~= 'running' then return 0 end
      redis.call('HSET', KEYS[1], 's', ARGV[1], 'a', ARGV[2], 'r', ARGV[3])
      redis.call('PEXPIRE', KEYS[1], r[2])
      return 1
      """);

  private final Redis redis;
  private final String keyPrefix;

  public RedisStatusMonitors(Redis redis, String keyPrefix) {
    this.redis = redis;
    this.keyPrefix = keyPrefix;
  }

  @Override
  public Future<Void> open(String requestId, String node, Duration heartbeat, Duration keep) {
    return OPEN.run(redis, keys(requestId), List.of(node, Long.toString(heartbeat.toMillis()),
        Long.toString(keep.toMillis()))).mapEmpty();
  }

  @Override
  public Future<Optional<Monitor>> poll(String requestId) {
    return POLL.run(redis, keys(requestId), List.of()).map(reply -> reply == null || reply.size() == 0
        ? Optional.empty()
        : Optional.of(monitor(requestId, reply)));
  }

  private static Monitor monitor(String requestId, Response reply) {
    String answer = reply.get(3).toString();
    return new Monitor(requestId, reply.get(0).toString(),
        State.valueOf(reply.get(1).toString().toUpperCase(Locale.ROOT)), Duration.ofMillis(reply.get(2).toLong()),
        answer.isEmpty() ? Optional.empty() : Optional.of(StoredAnswer.fromJson(new JsonObject(answer))),
        reply.get(4).toString());
  }

  @Override
  public Future<Boolean> heard(String requestId) {
    return HEARD.run(redis, keys(requestId), List.of()).map(reply -> reply.toInteger() == 1);
  }

  @Override
  public Future<Void> answered(String requestId, StoredAnswer answer) {
    return SETTLE.run(redis, keys(requestId), List.of("answered", answer.toJson().encode(), "")).mapEmpty();
  }

  @Override
  public Future<Void> ended(String requestId, String reason) {
    return SETTLE.run(redis, keys(requestId), List.of("ended", "", reason)).mapEmpty();
  }

  /** Redis forgets monitors by itself when their keep ends. */
  @Override
  public Future<Integer> purgeExpired() {
    return Future.succeededFuture(0);
  }

  private List<String> keys(String requestId) {
    return List.of(keyPrefix + ":{monitor:" + requestId + "}");
  }
}
