package io.unbroken.gateway;

import java.util.List;

/**
 * Known request-smuggling and parser-confusion vectors, as bytes on the wire to a node whose route
 * {@code /api} forwards everything. What the node should do with each is not written here: it
 * follows from how {@link io.unbroken.testing.StrictHttp} frames the bytes (see EdgeFuzzIT).
 */
final class EdgeVectors {

  /** A request with a body that ends in a chunked body's last chunk and then a whole request. */
  static final String BODY_THEN_SMUGGLED = "0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n";

  /**
   * A rule Netty or Vert.x would settle silently before the gateway's handlers see the request, so
   * only the strict decoder enforces it; each group has a test of its own.
   */
  enum Gap {
    NONE,
    /** Netty drops Content-Length when Transfer-Encoding: chunked comes with it, before the node sees the request. */
    CONTENT_LENGTH_WITH_CHUNKED,
    /** Netty joins an obs-fold line to the line above it. */
    OBS_FOLD,
    /** Netty skips whitespace before a chunk size and ends it at whitespace after; RFC 9112 allows hex digits only. */
    CHUNK_SIZE_WHITESPACE,
    /** Netty keeps the first of several Content-Length fields in an HTTP/1.0 request, and drops the others. */
    CONTENT_LENGTH_REPEATED_IN_HTTP_1_0,
    /**
     * Vert.x 5.0.7 reads a 14-byte header name C?ontent-?ength as Content-Length and a 12-byte C?ontent-?ype as
     * Content-Type whatever its ninth byte (VertxHttpRequestDecoder.splitHeaderName compares the others only).
     */
    HEADER_NAME_MISREAD
  }

  record Vector(String name, String bytes, Gap gap) {}

  private EdgeVectors() {}

  static List<Vector> all() {
    String post = "POST /api/a HTTP/1.1\r\nHost: gw\r\n";
    String chunked = "3\r\nabc\r\n0\r\n\r\n";
    return List.of(
        gap("CL.TE: Content-Length before chunked", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "0\r\n\r\nG", Gap.CONTENT_LENGTH_WITH_CHUNKED),
        gap("TE.CL: chunked before Content-Length", post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
            + "2c\r\nGET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n\r\n0\r\n\r\n", Gap.CONTENT_LENGTH_WITH_CHUNKED),
        gap("CL.TE hiding a whole request", post + "Content-Length: " + BODY_THEN_SMUGGLED.length()
            + "\r\nTransfer-Encoding: chunked\r\n\r\n" + BODY_THEN_SMUGGLED, Gap.CONTENT_LENGTH_WITH_CHUNKED),
        gap("Content-Length 0 with chunked", post + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked, Gap.CONTENT_LENGTH_WITH_CHUNKED),
        gap("obs-fold in a plain header", post + "Content-Length: 3\r\nX-A: a\r\n b\r\n\r\nabc", Gap.OBS_FOLD),
        gap("obs-fold with a tab after Host", "GET /api/a HTTP/1.1\r\nHost: gw\r\n\tother\r\n\r\n", Gap.OBS_FOLD),
        gap("obs-fold carrying Content-Length's value", post + "Content-Length:\r\n 3\r\n\r\nabc", Gap.OBS_FOLD),
        gap("obs-fold adding chunked to Transfer-Encoding", post + "Transfer-Encoding: identity\r\n chunked\r\n\r\n"
            + chunked, Gap.OBS_FOLD),
        vector("TE.TE: chunked followed by a comma", post + "Transfer-Encoding: chunked ,\r\n\r\n" + chunked),
        vector("TE.TE: a space before chunked (optional whitespace)", post + "Transfer-Encoding:  chunked\r\n\r\n"
            + chunked),
        vector("TE.TE: a tab before chunked", post + "Transfer-Encoding:\tchunked\r\n\r\n" + chunked),
        vector("TE.TE: a tab after chunked", post + "Transfer-Encoding: chunked\t\r\n\r\n" + chunked),
        vector("TE.TE: xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n" + chunked),
        vector("TE.TE: a space before the colon", post + "Transfer-Encoding : chunked\r\n\r\n" + chunked),
        vector("TE.TE: a tab before the colon", post + "Transfer-Encoding\t: chunked\r\n\r\n" + chunked),
        vector("TE.TE: a vertical tab before chunked", post + "Transfer-Encoding:\u000bchunked\r\n\r\n" + chunked),
        vector("TE.TE: chunked twice in one field", post + "Transfer-Encoding: chunked, chunked\r\n\r\n" + chunked),
        vector("TE.TE: two fields", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked),
        vector("TE.TE: identity then chunked", post + "Transfer-Encoding: identity\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + BODY_THEN_SMUGGLED),
        vector("TE.TE: CHUNKED in capitals", post + "Transfer-Encoding: CHUNKED\r\n\r\n" + chunked),
        vector("TE.TE: Transfer_Encoding is another header", post + "Transfer_Encoding: chunked\r\n\r\n" + chunked),
        vector("TE.TE: gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked),
        vector("Transfer-Encoding in HTTP/1.0", "POST /api/a HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked),
        vector("Content-Length +3", post + "Content-Length: +3\r\n\r\nabc"),
        vector("Content-Length 0x3", post + "Content-Length: 0x3\r\n\r\nabc"),
        vector("Content-Length with leading zeros", post + "Content-Length: 003\r\n\r\nabc"),
        vector("Content-Length empty", post + "Content-Length: \r\n\r\nabc"),
        vector("Content-Length as a list", post + "Content-Length: 3, 3\r\n\r\nabc"),
        vector("Content-Length twice, different", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        gap("Content-Length twice, different, in HTTP/1.0", "POST /api/a HTTP/1.0\r\nHost: gw\r\n"
            + "Content-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", Gap.CONTENT_LENGTH_REPEATED_IN_HTTP_1_0),
        gap("Content-Length twice in a kept-alive HTTP/1.0 request", "POST /api/a HTTP/1.0\r\nHost: gw\r\n"
            + "Connection: keep-alive\r\nContent-Length: 3\r\nContent-Length: 0\r\n\r\nabc",
            Gap.CONTENT_LENGTH_REPEATED_IN_HTTP_1_0),
        gap("Content-Xength read as Content-Length", "GET /api/a HTTP/1.1\r\nHost: gw\r\nContent-Xength: 46\r\n"
            + "\r\nGET /api/smuggled HTTP/1.1\r\nHost: gw\r\nX: 1\r\n\r\n", Gap.HEADER_NAME_MISREAD),
        gap("Content-\"ength is not a token, and read as Content-Length", post + "Content-\"ength: 3\r\n\r\nabc",
            Gap.HEADER_NAME_MISREAD),
        vector("Content-Length with trailing space", post + "Content-Length: 3 \r\n\r\nabc"),
        vector("Content-Length -1", post + "Content-Length: -1\r\n\r\nabc"),
        vector("Content-Length past a long", post + "Content-Length: 99999999999999999999\r\n\r\nabc"),
        vector("Content-Length 1e1", post + "Content-Length: 1e1\r\n\r\nabcdefghij"),
        vector("Content-Length named in Connection", post + "Connection: Content-Length\r\nContent-Length: 3\r\n\r\n"
            + "abc"),
        vector("Transfer-Encoding named in Connection", post + "Connection: Transfer-Encoding\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + chunked),
        vector("Host named in Connection", "GET /api/a HTTP/1.1\r\nHost: gw\r\nConnection: Host\r\n\r\n"),
        vector("bare LF line ends", "GET /api/a HTTP/1.1\nHost: gw\n\n"),
        vector("one header ended by a bare LF", "GET /api/a HTTP/1.1\r\nHost: gw\nX-A: b\r\n\r\n"),
        vector("bare CR line ends", "GET /api/a HTTP/1.1\rHost: gw\r\r"),
        vector("a bare CR inside a value", "GET /api/a HTTP/1.1\r\nHost: gw\r\nX-A: a\rb\r\n\r\n"),
        vector("NUL in a value", "GET /api/a HTTP/1.1\r\nHost: gw\r\nX-A: a\u0000b\r\n\r\n"),
        vector("NUL in a name", "GET /api/a HTTP/1.1\r\nHost: gw\r\nX-\u0000A: b\r\n\r\n"),
        vector("NUL in the target", "GET /api/a\u0000b HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("a space inside the target", "GET /api/a b HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("a tab inside the target", "GET /api/a\tb HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("DEL inside the query", "GET /api/a?x=\u007f HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("a header line without a colon", "GET /api/a HTTP/1.1\r\nHost: gw\r\nXAb\r\n\r\n"),
        vector("a space inside a header name", "GET /api/a HTTP/1.1\r\nHost: gw\r\nX A: b\r\n\r\n"),
        vector("a chunk size past a long", post + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n"
            + "0\r\n\r\n"),
        vector("a chunk size past an int", post + "Transfer-Encoding: chunked\r\n\r\n100000000\r\nabc\r\n0\r\n\r\n"),
        vector("a chunk extension", post + "Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"),
        vector("a quoted chunk extension", post + "Transfer-Encoding: chunked\r\n\r\n3;a=\"x;y\"\r\nabc\r\n0\r\n\r\n"),
        vector("a chunk size that is not hex", post + "Transfer-Encoding: chunked\r\n\r\n3g\r\nabc\r\n0\r\n\r\n"),
        gap("a chunk size with a space before it", post + "Transfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n"
            + "0\r\n\r\n", Gap.CHUNK_SIZE_WHITESPACE),
        gap("a chunk size with a tab after it", post + "Transfer-Encoding: chunked\r\n\r\n3\t\r\nabc\r\n"
            + "0\r\n\r\n", Gap.CHUNK_SIZE_WHITESPACE),
        vector("a chunk size with 0x", post + "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n"),
        vector("a negative chunk size", post + "Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n"),
        vector("chunk data longer than its size", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n"
            + "0\r\n\r\n"),
        vector("chunk data without its CRLF", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc0\r\n\r\n"),
        vector("a trailer after the last chunk", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
            + "Content-Length: 5\r\n\r\n"),
        vector("absolute-form target", "GET http://gw/api/a?q=1 HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("absolute-form naming another host", "GET http://elsewhere.example/api/a HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("absolute-form whose query holds the path", "GET http://gw?x=/api/a HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("asterisk-form target", "GET * HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("CONNECT authority-form", "CONNECT gw:443 HTTP/1.1\r\nHost: gw:443\r\n\r\n"),
        vector("a dot segment with a path parameter", "GET /api/a/..;/../b HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("two spaces in the request line", "GET  /api/a HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("a space after the version", "GET /api/a HTTP/1.1 \r\nHost: gw\r\n\r\n"),
        vector("the version in lower case", "GET /api/a http/1.1\r\nHost: gw\r\n\r\n"),
        vector("HTTP/1.2", "GET /api/a HTTP/1.2\r\nHost: gw\r\n\r\n"),
        vector("a method in lower case", "get /api/a HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("Host missing", "GET /api/a HTTP/1.1\r\n\r\n"),
        vector("Host twice", "GET /api/a HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n"),
        vector("Host twice in different cases", "GET /api/a HTTP/1.1\r\nHost: gw\r\nhost: other\r\n\r\n"),
        vector("HTTP/1.0 without Host", "GET /api/a HTTP/1.0\r\n\r\n"),
        vector("HTTP/1.0 with Host", "GET /api/a HTTP/1.0\r\nHost: gw\r\n\r\n"),
        vector("two pipelined requests", "GET /api/a HTTP/1.1\r\nHost: gw\r\n\r\n"
            + "GET /api/b HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("a request hidden in a Content-Length body", post + "Content-Length: " + BODY_THEN_SMUGGLED.length()
            + "\r\n\r\n" + BODY_THEN_SMUGGLED),
        vector("a request after a chunked body", post + "Transfer-Encoding: chunked\r\n\r\n" + BODY_THEN_SMUGGLED),
        vector("a GET with a body holding a request", "GET /api/a HTTP/1.1\r\nHost: gw\r\nContent-Length: "
            + BODY_THEN_SMUGGLED.length() + "\r\n\r\n" + BODY_THEN_SMUGGLED),
        vector("a GET whose unframed body is a request", "GET /api/a HTTP/1.1\r\nHost: gw\r\n\r\n"
            + BODY_THEN_SMUGGLED.substring(5)),
        vector("Expect: 100-continue", post + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"),
        vector("an h2c upgrade", "GET /api/a HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"),
        vector("empty lines before the request line", "\r\n\r\nGET /api/a HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("a long request line", "GET /api/" + "a".repeat(5_000) + " HTTP/1.1\r\nHost: gw\r\n\r\n"),
        vector("a long header", "GET /api/a HTTP/1.1\r\nHost: gw\r\nX-A: " + "a".repeat(9_000) + "\r\n\r\n"),
        vector("too many header fields", "GET /api/a HTTP/1.1\r\nHost: gw\r\n" + "X-A: a\r\n".repeat(30) + "\r\n"));
  }

  private static Vector vector(String name, String bytes) {
    return new Vector(name, bytes, Gap.NONE);
  }

  private static Vector gap(String name, String bytes, Gap gap) {
    return new Vector(name, bytes, gap);
  }
}
