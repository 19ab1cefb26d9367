package io.unbroken.gateway;

import io.vertx.core.http.HttpServerRequest;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;

/**
 * The request's path as everything after the listener sees it: routing, locks, idempotency
 * scopes, records and the upstream. Dot segments are removed (RFC 3986 section 5.2.4), so
 * {@code /api/public/../internal} is routed, and forwarded, as {@code /internal}; an absolute-form
 * target keeps its path and query only. A dot segment written percent-encoded ({@code %2e%2e}) is
 * refused: an upstream that decodes before it resolves would climb where the route never looked.
 * So is {@code %2F} unless the route allows it ({@link #encodedSlash}).
 *
 * @param path the normalized path, still percent-encoded as the client sent it
 * @param uri the normalized path with the request's query, as forwarded
 * @param encodedSlash the path holds {@code %2F}
 */
record RequestTarget(String path, String uri, boolean encodedSlash) {

  /** Why a request's target was refused, for a 400 problem. */
  static final class Refused extends Exception {
    Refused(String message) {
      super(message, null, false, false);
    }
  }

  static RequestTarget of(HttpServerRequest request) throws Refused {
    String raw = request.path();
    if (raw == null || !raw.startsWith("/")) {
      throw new Refused("the request target must be a path starting with /");
    }
    String query = request.query();
    boolean percent = raw.indexOf('%') >= 0;
    if (!percent && !raw.contains("/.")) {
      // The common case: nothing to normalize, and the target forwarded exactly as received.
      String uri = request.uri();
      return new RequestTarget(raw, uri.startsWith("/") ? uri : withQuery(raw, query), false);
    }
    boolean encodedSlash = false;
    if (percent) {
      String lower = raw.toLowerCase(Locale.ROOT);
      encodedSlash = lower.contains("%2f");
      for (String segment : lower.split("/", -1)) {
        String decoded = segment.replace("%2e", ".");
        if (!decoded.equals(segment) && (decoded.equals(".") || decoded.equals(".."))) {
          throw new Refused("the path holds a percent-encoded dot segment ('" + segment + "')");
        }
      }
    }
    String path = removeDotSegments(raw);
    return new RequestTarget(path, withQuery(path, query), encodedSlash);
  }

  /** RFC 3986 section 5.2.4 for an absolute path: "." segments go, ".." removes the segment before it. */
  static String removeDotSegments(String path) {
    Deque<String> kept = new ArrayDeque<>();
    String[] segments = path.substring(1).split("/", -1);
    for (int i = 0; i < segments.length; i++) {
      String segment = segments[i];
      boolean last = i == segments.length - 1;
      if (segment.equals(".") || segment.equals("..")) {
        if (segment.equals("..") && !kept.isEmpty()) {
          kept.removeLast();
        }
        if (last) {
          kept.addLast(""); // "/a/b/.." is "/a/", as a directory
        }
      } else {
        kept.addLast(segment);
      }
    }
    return "/" + String.join("/", kept);
  }

  private static String withQuery(String path, String query) {
    return query == null ? path : path + "?" + query;
  }
}
