package io.unbroken.platform;

import com.google.common.hash.Hashing;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A Lua script run atomically by Redis. Sent by digest ({@code EVALSHA}); the full text goes only
 * when the server does not know it yet (after a restart or a {@code SCRIPT FLUSH}).
 */
public final class RedisScript {

  /**
   * Lua that sets {@code now} to Redis's own clock in epoch ms, for scripts that judge leases and
   * expiries. Redis 7 replicates a script's effects, not the script, so reading TIME is allowed.
   */
  public static final String NOW_MILLIS = """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      """;

  /** Deletes KEYS[1] only if it holds ARGV[1]: how an owner gives back a lease without taking someone else's. */
  public static final RedisScript DELETE_IF_OWNED = new RedisScript("""
      if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
      return 0
      """);

  private final String source;
  private final String sha1;

  public RedisScript(String source) {
    this.source = source;
    this.sha1 = Hashing.sha1().hashString(source, StandardCharsets.UTF_8).toString();
  }

  public Future<Response> run(Redis redis, List<String> keys, List<String> args) {
    return redis.send(request(Command.EVALSHA, sha1, keys, args))
        .recover(failure -> isUnknownScript(failure)
            ? redis.send(request(Command.EVAL, source, keys, args))
            : Future.failedFuture(failure));
  }

  /** The call by digest, for a pipeline that starts with {@link #loadRequest()}. */
  public Request request(List<String> keys, List<String> args) {
    return request(Command.EVALSHA, sha1, keys, args);
  }

  public Request loadRequest() {
    return Request.cmd(Command.SCRIPT).arg("LOAD").arg(source);
  }

  private static Request request(Command command, String script, List<String> keys, List<String> args) {
    Request request = Request.cmd(command).arg(script).arg(keys.size());
    keys.forEach(request::arg);
    args.forEach(request::arg);
    return request;
  }

  // NOSCRIPT is the error code Redis puts first in the reply, not free text.
  private static boolean isUnknownScript(Throwable failure) {
    String message = failure.getMessage();
    return message != null && message.startsWith("NOSCRIPT");
  }
}
