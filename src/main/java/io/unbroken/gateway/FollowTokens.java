package io.unbroken.gateway;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/** Unguessable tokens in the paths where clients follow their sagas. */
final class FollowTokens {

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int BYTES = 16;

  private FollowTokens() {}

  static String next() {
    byte[] token = new byte[BYTES];
    RANDOM.nextBytes(token);
    return HexFormat.of().formatHex(token);
  }

  /** Compared in constant time, so answer times do not reveal how much of a guess was right. */
  static boolean matches(String presented, String expected) {
    return expected != null && MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8),
        expected.getBytes(StandardCharsets.UTF_8));
  }
}
