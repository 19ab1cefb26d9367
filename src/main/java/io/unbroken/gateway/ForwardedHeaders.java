package io.unbroken.gateway;

import io.vertx.core.MultiMap;
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

  // Host is set to the upstream's, Expect is answered by the gateway itself.
  private static final Set<String> NOT_FORWARDED = caseInsensitive(
      "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
      "te", "trailer", "transfer-encoding", "upgrade", "host", "expect");

  private ForwardedHeaders() {}

  /** Copies end-to-end headers from one hop to the next. */
  static void copy(MultiMap from, MultiMap to) {
    Set<String> named = connectionTokens(from.get("Connection"));
    for (Map.Entry<String, String> header : from) {
      String name = header.getKey();
      if (!NOT_FORWARDED.contains(name) && (named == null || !named.contains(name))) {
        to.add(name, header.getValue());
      }
    }
  }

  /** Adds what the upstream needs to know about the client's hop and this request. */
  static void addForwarding(HttpServerRequest request, MultiMap to, String requestId) {
    MultiMap from = request.headers();
    String client = request.remoteAddress() == null ? "unknown" : request.remoteAddress().hostAddress();
    String priorFor = from.get("X-Forwarded-For");
    to.set("X-Forwarded-For", priorFor == null ? client : priorFor + ", " + client);
    to.set("X-Forwarded-Proto", request.isSSL() ? "https" : "http");
    String host = from.get("Host");
    if (host != null) {
      to.set("X-Forwarded-Host", host);
    }
    String clientRequestId = from.get(REQUEST_ID);
    if (clientRequestId != null && !from.contains(CORRELATION_ID)) {
      to.set(CORRELATION_ID, clientRequestId);
    }
    to.set(REQUEST_ID, requestId);
  }

  private static Set<String> connectionTokens(String connection) {
    if (connection == null) {
      return null;
    }
    Set<String> tokens = caseInsensitive();
    for (String token : connection.split(",")) {
      tokens.add(token.trim());
    }
    return tokens;
  }

  private static Set<String> caseInsensitive(String... names) {
    Set<String> set = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    set.addAll(Set.of(names));
    return set;
  }
}
