package io.unbroken.gateway;

import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.unbroken.config.UnbrokenConfig;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How a request is framed, checked once before anything else looks at it. Two parsers that frame
 * one byte stream differently are how a request is smuggled past a front proxy (CL.TE, TE.CL), so
 * whatever could be read two ways is refused and the connection closed (RFC 9112 section 6.1):
 * both Content-Length and Transfer-Encoding, a Transfer-Encoding other than {@code chunked} or in
 * an HTTP/1.0 request, a repeated Content-Length, a missing or repeated Host (section 3.2), a
 * header name that is not a token (whitespace before the colon), and NUL, CR or LF inside a value; past
 * {@code server.limits.maxHeaders} fields, 431. What the decoder refuses, {@link #undecodable}
 * words: differing or malformed Content-Lengths, bare LF line ends, lines past the configured
 * limits, and what {@link StrictRequestDecoder} finds in the raw head (Content-Length beside
 * Transfer-Encoding, which Netty would drop, and obs-fold lines, which it would join).
 */
final class Framing {

  private Framing() {}

  /** Why the request is refused before anything reads it: 400 misframed, or 431 too many header fields. */
  static Optional<Problem> problemWith(HttpServerRequest request, int maxHeaders, String requestId) {
    return problemWith(request.headers(), request.version(), maxHeaders, requestId);
  }

  static Optional<Problem> problemWith(MultiMap headers, HttpVersion version, int maxHeaders, String requestId) {
    return refusal(headers, version, maxHeaders).map(refusal -> refusal.status() == 431
        ? Problem.of("too-many-headers", "Too many header fields", 431, refusal.why(), requestId)
        : Problem.of("request-misframed", "Request misframed", 400, refusal.why(), requestId));
  }

  /** Why the decoder refused a request, as the problem its client gets. */
  static Problem undecodable(Throwable cause, UnbrokenConfig.Limits limits, String requestId) {
    if (cause instanceof TooLongHttpLineException) {
      return Problem.of("request-line-too-long", "Request line too long", 414, "The request line is longer than "
          + limits.maxRequestLine() + " bytes (server.limits.maxRequestLine)", requestId);
    }
    if (cause instanceof TooLongHttpHeaderException) {
      return Problem.of("headers-too-large", "Header section too large", 431, "The header section is longer than "
          + limits.maxHeaderSize() + " bytes (server.limits.maxHeaderSize)", requestId);
    }
    String why = cause instanceof StrictRequestDecoder.Misframed ? cause.getMessage()
        : "the request could not be parsed as HTTP/1.1: " + cause.getMessage();
    return Problem.of("request-misframed", "Request misframed", 400, why, requestId);
  }

  private record Refusal(int status, String why) {}

  private static Optional<Refusal> misframed(String why) {
    return Optional.of(new Refusal(400, why));
  }

  private static Optional<Refusal> refusal(MultiMap headers, HttpVersion version, int maxHeaders) {
    List<String> hosts = headers.getAll(HttpHeaders.HOST);
    if (hosts.size() > 1 || hosts.isEmpty() && version == HttpVersion.HTTP_1_1) {
      return misframed("an HTTP/1.1 request needs exactly one Host header (RFC 9112 section 3.2); it has "
          + hosts.size());
    }
    List<String> codings = headers.getAll(HttpHeaders.TRANSFER_ENCODING);
    if (!codings.isEmpty()) {
      if (headers.contains(HttpHeaders.CONTENT_LENGTH)) {
        return misframed("both Content-Length and Transfer-Encoding: the body could be framed two ways");
      }
      if (codings.size() > 1 || !codings.get(0).trim().equalsIgnoreCase("chunked")) {
        return misframed("Transfer-Encoding must be chunked alone; it is '" + String.join(", ", codings) + "'");
      }
      if (version == HttpVersion.HTTP_1_0) {
        return misframed("Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1: its framing is faulty)");
      }
    } else if (headers.getAll(HttpHeaders.CONTENT_LENGTH).size() > 1) {
      return misframed("Content-Length is repeated");
    }
    int fields = 0;
    for (Map.Entry<String, String> header : headers) {
      if (++fields > maxHeaders) {
        return Optional.of(new Refusal(431, "more than " + maxHeaders + " fields (server.limits.maxHeaders)"));
      }
      if (!isToken(header.getKey())) {
        return misframed("the header name '" + header.getKey().strip()
            + "' is not a token (a space before the colon?)");
      }
      if (hasControl(header.getValue())) {
        return misframed("the value of " + header.getKey() + " holds NUL, CR or LF");
      }
    }
    return Optional.empty();
  }

  private static boolean isToken(String name) {
    if (name.isEmpty()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean tokenChar = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!tokenChar) {
        return false;
      }
    }
    return true;
  }

  private static boolean hasControl(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == 0 || c == '\r' || c == '\n') {
        return true;
      }
    }
    return false;
  }
}
