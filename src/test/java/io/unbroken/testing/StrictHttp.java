package io.unbroken.testing;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads HTTP/1.1 requests as RFC 9112 frames them and refuses anything a more lenient parser could
 * frame another way: line ends other than CRLF, a request line that is not three parts (whitespace
 * and control characters around them aside), obs-fold, a header line without a colon, a header
 * name that is not a token or has whitespace before its colon, NUL in a value, Content-Length that
 * is not digits or is repeated, both Content-Length and Transfer-Encoding, a Transfer-Encoding
 * other than chunked alone or in HTTP/1.0, chunk sizes that are not hex, and a missing or repeated
 * Host in HTTP/1.1. Whitespace and control characters before a request line are skipped, as Netty
 * does (RFC 9112 section 2.2 asks for empty lines to be): bytes between two messages cannot move
 * where either ends.
 */
public final class StrictHttp {

  private static final String TCHARS = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
  private static final Pattern TOKEN = Pattern.compile(TCHARS);
  private static final Pattern DIGITS = Pattern.compile("[0-9]{1,18}");
  private static final Pattern HEX = Pattern.compile("[0-9A-Fa-f]{1,15}");
  private static final Pattern CHUNK_EXTENSIONS =
      Pattern.compile("(?:[ \\t]*;[ \\t]*" + TCHARS + "(?:=(?:" + TCHARS + "|\"[^\"]*\"))?)*");
  private static final int MAX_LINE = 65_536;

  private StrictHttp() {}

  /** One request as framed. */
  public record Request(String method, String target, String version, List<Map.Entry<String, String>> headers,
      byte[] body) {

    public List<String> all(String name) {
      return headers.stream().filter(h -> h.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue).toList();
    }
  }

  /** Bytes that a lenient parser could frame another way than this one does. */
  public static final class Misframed extends Exception {
    Misframed(String why) {
      super(why, null, false, false);
    }
  }

  /** How a byte stream ends: after its last request, in the middle of one, or at one that is misframed. */
  public enum Ending { COMPLETE, INCOMPLETE, MISFRAMED }

  /**
   * What a whole byte stream holds.
   *
   * @param requests the well-framed requests, in order
   * @param why for a misframed ending, what is wrong with the request after the last well-framed one
   */
  public record Reading(List<Request> requests, Ending ending, String why) {}

  public static Reading readAll(byte[] bytes) {
    InputStream in = new ByteArrayInputStream(bytes);
    List<Request> requests = new ArrayList<>();
    try {
      for (Request request = read(in); request != null; request = read(in)) {
        requests.add(request);
      }
      return new Reading(requests, Ending.COMPLETE, null);
    } catch (Misframed misframed) {
      return new Reading(requests, Ending.MISFRAMED, misframed.getMessage());
    } catch (IOException incomplete) {
      return new Reading(requests, Ending.INCOMPLETE, null);
    }
  }

  /**
   * The next request on {@code in}, or null if the stream ends before one starts.
   *
   * @throws EOFException if the stream ends within a request
   */
  public static Request read(InputStream in) throws IOException, Misframed {
    int first = in.read();
    while (first >= 0 && (first <= ' ' || first == 0x7f)) {
      first = in.read();
    }
    if (first < 0) {
      return null;
    }
    String requestLine = (char) first + line(in, true);
    // Whitespace runs are one separator and control characters around a part are dropped, as RFC 9112
    // section 3 lets a recipient read a request line and as Netty does: they cannot move where a
    // message ends.
    String[] parts = Arrays.stream(requestLine.trim().split("[ \\t\\x0b\\f\\r]+", -1)).map(String::trim)
        .toArray(String[]::new);
    if (parts.length != 3 || !TOKEN.matcher(parts[0]).matches() || parts[1].isEmpty()
        || !parts[2].equals("HTTP/1.1") && !parts[2].equals("HTTP/1.0") || hasControl(parts[1])) {
      throw new Misframed("request line '" + requestLine + "'");
    }
    List<Map.Entry<String, String>> headers = headers(in);
    Request head = new Request(parts[0], parts[1], parts[2], headers, new byte[0]);
    checkHost(head);
    return new Request(parts[0], parts[1], parts[2], headers, body(in, head));
  }

  private static List<Map.Entry<String, String>> headers(InputStream in) throws IOException, Misframed {
    List<Map.Entry<String, String>> headers = new ArrayList<>();
    for (String line = line(in, false); !line.isEmpty(); line = line(in, false)) {
      if (line.startsWith(" ") || line.startsWith("\t")) {
        throw new Misframed("obs-fold line '" + line + "'");
      }
      int colon = line.indexOf(':');
      if (colon < 0) {
        throw new Misframed("header line without a colon '" + line + "'");
      }
      String name = line.substring(0, colon);
      if (!TOKEN.matcher(name).matches()) {
        throw new Misframed("header name '" + name + "'");
      }
      String value = line.substring(colon + 1).replaceAll("^[ \\t]+|[ \\t]+$", "");
      if (value.indexOf('\0') >= 0) {
        throw new Misframed("NUL in the value of " + name);
      }
      headers.add(Map.entry(name, value));
    }
    return headers;
  }

  private static void checkHost(Request head) throws Misframed {
    int hosts = head.all("Host").size();
    if (hosts > 1 || hosts == 0 && head.version().equals("HTTP/1.1")) {
      throw new Misframed(hosts + " Host headers");
    }
  }

  private static byte[] body(InputStream in, Request head) throws IOException, Misframed {
    List<String> codings = head.all("Transfer-Encoding");
    List<String> lengths = head.all("Content-Length");
    if (!codings.isEmpty()) {
      if (!lengths.isEmpty()) {
        throw new Misframed("both Content-Length and Transfer-Encoding");
      }
      if (codings.size() > 1 || !codings.get(0).toLowerCase(Locale.ROOT).equals("chunked")) {
        throw new Misframed("Transfer-Encoding " + codings);
      }
      if (head.version().equals("HTTP/1.0")) {
        throw new Misframed("Transfer-Encoding in HTTP/1.0 (RFC 9112 section 6.1: faulty framing)");
      }
      return chunked(in);
    }
    if (lengths.size() > 1) {
      throw new Misframed("Content-Length repeated" + (head.version().equals("HTTP/1.0") ? " in HTTP/1.0" : ""));
    }
    if (lengths.isEmpty()) {
      return new byte[0];
    }
    if (!DIGITS.matcher(lengths.get(0)).matches()) {
      throw new Misframed("Content-Length '" + lengths.get(0) + "'");
    }
    return exactly(in, Long.parseLong(lengths.get(0)));
  }

  private static byte[] chunked(InputStream in) throws IOException, Misframed {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String line = line(in, false);
      int semicolon = line.indexOf(';');
      String size = semicolon < 0 ? line : line.substring(0, semicolon);
      if (!HEX.matcher(size).matches()
          || semicolon >= 0 && !CHUNK_EXTENSIONS.matcher(line.substring(semicolon)).matches()) {
        throw new Misframed("chunk size line '" + line + "'");
      }
      long length = Long.parseLong(size, 16);
      if (length == 0) {
        headers(in); // trailers
        return body.toByteArray();
      }
      body.writeBytes(exactly(in, length));
      if (!line(in, false).isEmpty()) {
        throw new Misframed("no CRLF after a chunk's data");
      }
    }
  }

  private static byte[] exactly(InputStream in, long length) throws IOException {
    if (length > 16 * 1024 * 1024) {
      throw new EOFException("a body of " + length + " bytes is more than any request here sends");
    }
    byte[] bytes = in.readNBytes((int) length);
    if (bytes.length < length) {
      throw new EOFException("the stream ended within a body");
    }
    return bytes;
  }

  /**
   * A line without its CRLF, in ISO-8859-1. In a request line a bare CR is read as a space, which RFC
   * 9112 section 2.2 allows; anywhere else it is refused.
   *
   * @throws EOFException at the end of the stream within a line
   */
  private static String line(InputStream in, boolean requestLine) throws IOException, Misframed {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) {
        throw new EOFException("the stream ended within a line");
      }
      if (b == '\n') {
        throw new Misframed("a bare LF ends a line");
      }
      if (b == '\r') {
        int next = in.read();
        if (next < 0) {
          throw new EOFException("the stream ended after CR");
        }
        if (next == '\n') {
          return line.toString(StandardCharsets.ISO_8859_1);
        }
        if (!requestLine) {
          throw new Misframed("a bare CR within a line");
        }
        line.write(' ');
        b = next;
      }
      if (line.size() >= MAX_LINE) {
        throw new Misframed("a line of more than " + MAX_LINE + " bytes");
      }
      line.write(b);
    }
  }

  private static boolean hasControl(String text) {
    return text.chars().anyMatch(c -> c < 0x20 || c == 0x7f);
  }
}
