package io.unbroken.idempotency;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What identifies an attempt: the key's scope (route, client principal, key) and the payload's
 * fingerprint, both SHA-256 in hex, so neither a principal (it may be a credential) nor a key is
 * stored in clear and their lengths are bounded.
 */
public final class IdempotencyKeys {

  public static final int MAX_KEY_LENGTH = 255;

  private IdempotencyKeys() {}

  /** Why {@code key} is not a valid Idempotency-Key (1..255 visible ASCII characters), if it is not. */
  public static Optional<String> problemWith(String key) {
    if (key.isEmpty()) {
      return Optional.of("the Idempotency-Key header is empty");
    }
    if (key.length() > MAX_KEY_LENGTH) {
      return Optional.of("the Idempotency-Key is " + key.length() + " characters long; at most " + MAX_KEY_LENGTH
          + " are allowed");
    }
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (c < 0x21 || c > 0x7e) {
        return Optional.of("the Idempotency-Key may hold only visible ASCII characters; character " + (i + 1)
            + " is not one");
      }
    }
    return Optional.empty();
  }

  public static String scope(String route, String principal, String key) {
    return Hashing.sha256().newHasher()
        .putString(route, StandardCharsets.UTF_8).putByte((byte) 0)
        .putString(principal, StandardCharsets.UTF_8).putByte((byte) 0)
        .putString(key, StandardCharsets.UTF_8)
        .hash().toString();
  }

  /** SHA-256 of method, path, query, the given headers (in the route's order) and body. */
  public static String fingerprint(String method, String path, String query, List<Map.Entry<String, String>> headers,
      Buffer body) {
    Hasher hasher = Hashing.sha256().newHasher()
        .putString(method, StandardCharsets.UTF_8).putByte((byte) 0)
        .putString(path, StandardCharsets.UTF_8).putByte((byte) 0)
        .putString(query == null ? "" : query, StandardCharsets.UTF_8).putByte((byte) 0);
    for (Map.Entry<String, String> header : headers) {
      hasher.putString(header.getKey(), StandardCharsets.UTF_8).putByte((byte) 0)
          .putString(header.getValue() == null ? "" : header.getValue(), StandardCharsets.UTF_8).putByte((byte) 0);
    }
    return hasher.putBytes(body.getBytes()).hash().toString();
  }
}
