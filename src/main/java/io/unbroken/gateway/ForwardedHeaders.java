package io.unbroken.gateway;

import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Header rules of a forwarding hop (RFC 9110 section 7.6.1): hop-by-hop headers and those a
 * {@code Connection} header names stay on their hop, and the upstream learns who the client was
 * through {@code X-Forwarded-For/-Proto/-Host}.
 */
final class ForwardedHeaders {

  static final String REQUEST_ID = "X-Request-Id";
  static final String CORRELATION_ID = "X-Correlation-Id";

  // Pre-encoded names: their case-insensitive hash is computed once, not on every lookup.
  private static final CharSequence CONNECTION = HttpHeaders.createOptimized("Connection");
  private static final CharSequence HOST = HttpHeaders.createOptimized("Host");
  private static final CharSequence X_FORWARDED_FOR = HttpHeaders.createOptimized("X-Forwarded-For");
  private static final CharSequence X_FORWARDED_PROTO = HttpHeaders.createOptimized("X-Forwarded-Proto");
  private static final CharSequence X_FORWARDED_HOST = HttpHeaders.createOptimized("X-Forwarded-Host");
  private static final CharSequence X_REQUEST_ID = HttpHeaders.createOptimized(REQUEST_ID);
  private static final CharSequence X_CORRELATION_ID = HttpHeaders.createOptimized(CORRELATION_ID);
  static final CharSequence REQUEST_DEADLINE = HttpHeaders.createOptimized("X-Request-Deadline-Ms");
  // Over three months: more than any route timeout, and safe from overflow in nanoseconds.
  static final int MAX_CLIENT_DEADLINE_DIGITS = 10;
  private static final CharSequence HTTP = HttpHeaders.createOptimized("http");
  private static final CharSequence HTTPS = HttpHeaders.createOptimized("https");

  private ForwardedHeaders() {}

  /** Copies end-to-end headers from one hop to the next. */
  static void copy(MultiMap from, MultiMap to) {
    Set<String> named = connectionTokens(from.get(CONNECTION));
    for (Map.Entry<String, String> header : from) {
      String name = header.getKey();
      if (!notForwarded(name) && (named == null || !named.contains(name))) {
        to.add(name, header.getValue());
      }
    }
  }

  /**
   * The deadline the client sent ({@code X-Request-Deadline-Ms}, relative milliseconds like gRPC's
   * {@code grpc-timeout}, so clocks need not agree): {@link Long#MAX_VALUE} when it sent none, -1
   * when the value is not a whole number of at most {@link #MAX_CLIENT_DEADLINE_DIGITS} digits.
   */
  static long clientDeadlineMillis(HttpServerRequest request) {
    String value = request.getHeader(REQUEST_DEADLINE);
    if (value == null) {
      return Long.MAX_VALUE;
    }
    int length = value.length();
    if (length == 0 || length > MAX_CLIENT_DEADLINE_DIGITS) {
      return -1;
    }
    long millis = 0;
    for (int i = 0; i < length; i++) {
      char digit = value.charAt(i);
      if (digit < '0' || digit > '9') {
        return -1;
      }
      millis = millis * 10 + (digit - '0');
    }
    return millis;
  }

  /**
   * The headers of a request as it goes upstream: the client's, less hop-by-hop ones, plus the
   * forwarding headers and the time left, relative so the upstream's clock need not agree with
   * ours (it replaces any value the client sent).
   */
  static void forUpstream(HttpServerRequest request, MultiMap to, String requestId, long remainingMs) {
    copy(request.headers(), to);
    addForwarding(request, to, requestId);
    to.set(REQUEST_DEADLINE, Long.toString(remainingMs));
  }

  /** Adds what the upstream needs to know about the client's hop and this request. */
  private static void addForwarding(HttpServerRequest request, MultiMap to, String requestId) {
    MultiMap from = request.headers();
    String client = request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
    String priorFor = from.get(X_FORWARDED_FOR);
    to.set(X_FORWARDED_FOR, priorFor == null ? client : priorFor + ", " + client);
    to.set(X_FORWARDED_PROTO, request.isSSL() ? HTTPS : HTTP);
    String host = from.get(HOST);
    if (host != null) {
      to.set(X_FORWARDED_HOST, host);
    } else if (request.authority() != null) {
      to.set(X_FORWARDED_HOST, request.authority().toString()); // HTTP/2 names it :authority, not Host
    }
    String clientRequestId = from.get(X_REQUEST_ID);
    if (clientRequestId != null && !from.contains(X_CORRELATION_ID)) {
      to.set(X_CORRELATION_ID, clientRequestId);
    }
    to.set(X_REQUEST_ID, requestId);
  }

  /**
   * Hop-by-hop headers (RFC 9110 section 7.6.1), plus Host, which is set to the upstream's, and
   * Expect, which the gateway answers itself. A switch on the length keeps this off the profile.
   */
  static boolean notForwarded(String name) {
    return switch (name.length()) {
      case 2 -> name.equalsIgnoreCase("te");
      case 4 -> name.equalsIgnoreCase("host");
      case 6 -> name.equalsIgnoreCase("expect");
      case 7 -> name.equalsIgnoreCase("trailer") || name.equalsIgnoreCase("upgrade");
      case 10 -> name.equalsIgnoreCase("connection") || name.equalsIgnoreCase("keep-alive");
      case 16 -> name.equalsIgnoreCase("proxy-connection");
      case 17 -> name.equalsIgnoreCase("transfer-encoding");
      case 18 -> name.equalsIgnoreCase("proxy-authenticate");
      case 19 -> name.equalsIgnoreCase("proxy-authorization");
      default -> false;
    };
  }

  private static Set<String> connectionTokens(String connection) {
    if (connection == null || connection.equalsIgnoreCase("keep-alive") || connection.equalsIgnoreCase("close")) {
      return null; // the usual values name no extra header
    }
    Set<String> tokens = caseInsensitive();
    for (String token : connection.split(",")) {
      tokens.add(token.trim());
    }
    // The body goes on as it came, so its length does too: without it the next hop reads no body.
    tokens.remove("Content-Length");
    return tokens;
  }

  private static Set<String> caseInsensitive() {
    return new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
  }
}
