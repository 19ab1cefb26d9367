package io.unbroken.gateway;

import io.vertx.core.http.HttpServerRequest;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The request's path as everything after the listener sees it: routing, locks, idempotency
 * scopes, records and the upstream. Dot segments are removed (RFC 3986 section 5.2.4), so
 * {@code /api/public/../internal} is routed, and forwarded, as {@code /internal}; an absolute-form
 * target keeps its path and query only. A dot segment that only an upstream would see is refused:
 * written percent-encoded ({@code %2e%2e}), between encoded slashes ({@code ..%2F}) or with a path
 * parameter ({@code ..;x}, which servlet containers drop), since an upstream that decodes or strips
 * before it resolves would climb where the route never looked. So is {@code %2F} unless the route
 * allows it ({@link #encodedSlash}), and a target holding a space or a control character.
 *
 * @param path the normalized path, still percent-encoded as the client sent it
 * @param uri the normalized path with the request's query, as forwarded
 * @param encodedSlash the path holds {@code %2F}
 */
record RequestTarget(String path, String uri, boolean encodedSlash) {

  private static final Pattern ANY_SLASH = Pattern.compile("/|%2[fF]");

  /** Why a request's target was refused, for a 400 problem. */
  static final class Refused extends Exception {
    Refused(String message) {
      super(message, null, false, false);
    }
  }

  static RequestTarget of(HttpServerRequest request) throws Refused {
    return of(request.path(), request.query(), request.uri());
  }

  /**
   * @param raw the path as the listener parsed it from {@code uri}
   * @param query the query as the listener parsed it from {@code uri}, or null
   * @param uri the request target as received: origin-form or absolute-form
   */
  static RequestTarget of(String raw, String query, String uri) throws Refused {
    if (raw == null || !raw.startsWith("/")) {
      throw new Refused("the request target must be a path starting with /");
    }
    if (hasSpaceOrControl(uri)) {
      // The parser takes the last space on the line as the end of the target; forwarded as it is,
      // "GET /a b HTTP/1.1" is a request line another server may split differently.
      throw new Refused("the request target holds a space or a control character");
    }
    boolean percent = raw.indexOf('%') >= 0;
    if (!percent && !raw.contains("/.")) {
      // The common case: nothing to normalize, and the target forwarded exactly as received.
      return new RequestTarget(raw, uri.startsWith("/") ? uri : withQuery(raw, query), false);
    }
    String path = removeDotSegments(raw);
    String hidden = hiddenDotSegment(path);
    if (hidden != null) {
      throw new Refused("the path holds a dot segment that only the upstream would resolve ('" + hidden
          + "'): percent-encoded, after %2F or with a ;parameter");
    }
    return new RequestTarget(path, withQuery(path, query), percent && raw.toLowerCase(Locale.ROOT).contains("%2f"));
  }

  /**
   * A piece of a path without literal dot segments that still reads as one to an upstream that
   * decodes {@code %2E}, splits at {@code %2F} or drops a path parameter before it resolves; null
   * if there is none.
   */
  private static String hiddenDotSegment(String path) {
    for (String piece : ANY_SLASH.split(path, -1)) {
      String decoded = piece.replace("%2e", ".").replace("%2E", ".");
      int parameter = decoded.indexOf(';');
      String read = parameter < 0 ? decoded : decoded.substring(0, parameter);
      if (read.equals(".") || read.equals("..")) {
        return piece;
      }
    }
    return null;
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

  private static boolean hasSpaceOrControl(String uri) {
    for (int i = 0; i < uri.length(); i++) {
      char c = uri.charAt(i);
      if (c <= ' ' || c == 0x7f) {
        return true;
      }
    }
    return false;
  }

  private static String withQuery(String path, String query) {
    return query == null ? path : path + "?" + query;
  }
}
