package io.unbroken.gateway;

import io.netty.buffer.ByteBuf;

/**
 * A chunked body's framing (RFC 9112 section 7.1), followed over the bytes the decoder consumed,
 * for the one thing Netty reads leniently: whitespace before or after a chunk size, which it trims
 * and another parser may take for no size at all, and a CR not followed by LF, where Netty stops
 * reading the size. Whitespace is allowed only before a chunk extension's {@code ;}. Anything else
 * malformed Netty refuses itself.
 */
final class ChunkFraming {

  private enum Part { SIZE, EXTENSION, DATA, DATA_END, TRAILER, ENDED }

  private Part part = Part.SIZE;
  private long size;
  private boolean sizeStarted;
  private boolean whitespaceAfterSize;
  private boolean trailerLineEmpty = true;
  private boolean afterCr;

  /** Starts over for the next chunked body. */
  void reset() {
    part = Part.SIZE;
    size = 0;
    sizeStarted = false;
    whitespaceAfterSize = false;
    trailerLineEmpty = true;
    afterCr = false;
  }

  /** Follows the bytes {@code [from, to)} of the body; why its framing is refused, or null. */
  String follow(ByteBuf buffer, int from, int to) {
    int i = from;
    while (i < to && part != Part.ENDED) {
      if (part == Part.DATA) {
        int taken = (int) Math.min(size, to - i);
        i += taken;
        size -= taken;
        part = size == 0 ? Part.DATA_END : Part.DATA;
        continue;
      }
      String refused = read(buffer.getByte(i++));
      if (refused != null) {
        return refused;
      }
    }
    return null;
  }

  private String read(byte b) {
    if (afterCr && b != '\n') {
      return "a CR not followed by LF in a chunk's framing, where parsers stop reading differently";
    }
    afterCr = b == '\r';
    switch (part) {
      case SIZE -> {
        return sizeByte(b);
      }
      case EXTENSION -> {
        if (b == '\n') {
          return sizeLineEnded();
        }
      }
      case DATA_END -> {
        if (b == '\n') {
          part = Part.SIZE;
        }
      }
      case TRAILER -> {
        if (b == '\n') {
          part = trailerLineEmpty ? Part.ENDED : Part.TRAILER;
          trailerLineEmpty = true;
        } else if (b != '\r') {
          trailerLineEmpty = false;
        }
      }
      default -> throw new IllegalStateException(part.name());
    }
    return null;
  }

  private String sizeByte(byte b) {
    int digit = Character.digit(b, 16);
    if (digit >= 0 && !whitespaceAfterSize) {
      sizeStarted = true;
      size = Math.min(size * 16 + digit, Long.MAX_VALUE / 16); // too large a size Netty refuses itself
      return null;
    }
    if (b == ' ' || b == '\t') {
      if (!sizeStarted) {
        return "a chunk size starts with whitespace, which parsers read differently";
      }
      whitespaceAfterSize = true;
      return null;
    }
    if (b == ';' && sizeStarted) {
      part = Part.EXTENSION;
      return null;
    }
    if (b == '\r') {
      return null; // read() has made sure LF comes next
    }
    if (b == '\n' && sizeStarted && !whitespaceAfterSize) {
      return sizeLineEnded();
    }
    return whitespaceAfterSize ? "a chunk size is followed by whitespace, which parsers read differently"
        : "a chunk size line holds '" + (char) b + "', which is not a hex digit";
  }

  private String sizeLineEnded() {
    part = size == 0 ? Part.TRAILER : Part.DATA;
    sizeStarted = false;
    whitespaceAfterSize = false;
    return null;
  }
}
