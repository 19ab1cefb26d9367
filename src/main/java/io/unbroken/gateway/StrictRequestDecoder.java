package io.unbroken.gateway;

import static io.netty.handler.codec.http.HttpHeaderNames.CONTENT_LENGTH;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.impl.VertxHttpRequestDecoder;
import io.vertx.core.net.impl.ConnectionBase;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Vert.x's HTTP/1 request decoder, made to refuse what it and Netty would settle silently, and to
 * bound how long a client may take to send a request's head.
 *
 * <p>Before any handler sees a request, Netty drops Content-Length when Transfer-Encoding is also
 * present, joins obs-folded lines and keeps the first of several Content-Lengths in HTTP/1.0, and
 * Vert.x reads a name one byte off Content-Length as Content-Length; the checks in {@link Framing}
 * cannot see any of it, and a front proxy that reads the same bytes the other way is how a request
 * is smuggled. Here each marks the request as failed to decode, which the server hands to its
 * invalid-request handler (400, connection closed); the raw head is read line by line for lines
 * that start with whitespace (RFC 9112 sections 2.2 and 5.2).
 *
 * <p>The head timeout runs from the connection's opening for its first request, and from the first
 * byte of each later one; the wait between requests belongs to the idle timeout, and the time a
 * response takes to no timeout of the client's.
 */
final class StrictRequestDecoder extends VertxHttpRequestDecoder {

  /** The name Vert.x gives its decoder, and looks it up by when a connection is upgraded. */
  private static final String NAME = "httpDecoder";

  /** Why a request head is refused; the server's invalid-request handler reads it from the decoder result. */
  static final class Misframed extends RuntimeException {
    Misframed(String why) {
      super(why, null, false, false);
    }
  }

  private final long headTimeoutNanos;
  private final Runnable onHeadTimeout;
  private ChannelHandlerContext context;
  private ScheduledFuture<?> headCheck;
  private boolean awaitingHead = true;
  private long headStartedNanos = -1; // when the awaited head began, -1 while none is arriving
  // Where the scan of the head being read stands; a head may arrive in several reads.
  private boolean afterLineWithContent; // the last byte read ended a line that was not empty
  private int openLineBytes; // bytes read of a line whose end has not arrived
  private int contentLengths;
  private String misframing;
  private final ChunkFraming chunks = new ChunkFraming();
  private boolean followingChunks; // reading a chunked body
  private boolean discarding; // a body was refused: nothing more is read from this connection

  StrictRequestDecoder(HttpServerOptions options, Duration headTimeout, Runnable onHeadTimeout) {
    super(options);
    this.headTimeoutNanos = headTimeout.toNanos();
    this.onHeadTimeout = onHeadTimeout;
  }

  /** Puts this decoder in place of Vert.x's on an HTTP/1 connection just accepted (HTTP/2 has no such decoder). */
  static void install(HttpConnection connection, HttpServerOptions options, Duration headTimeout,
      Runnable onHeadTimeout) {
    ChannelPipeline pipeline = ((ConnectionBase) connection).channelHandlerContext().pipeline();
    if (pipeline.get(NAME) instanceof VertxHttpRequestDecoder) {
      pipeline.replace(NAME, NAME, new StrictRequestDecoder(options, headTimeout, onHeadTimeout));
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
    super.handlerAdded(ctx);
    context = ctx;
    if (headTimeoutNanos > 0) {
      headStartedNanos = System.nanoTime();
      checkHeadIn(headTimeoutNanos);
    }
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) throws Exception {
    if (headCheck != null) {
      headCheck.cancel(false);
    }
    super.handlerRemoved0(ctx);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
    if (discarding) {
      buffer.skipBytes(buffer.readableBytes());
      return;
    }
    if (!awaitingHead) {
      int from = buffer.readerIndex();
      int decodedBefore = out.size();
      super.decode(ctx, buffer, out);
      String refused = followingChunks ? chunks.follow(buffer, from, buffer.readerIndex()) : null;
      if (refused != null) {
        refuseBody(buffer, out, decodedBefore, refused);
      }
      noteEnds(out, decodedBefore);
      return;
    }
    if (headStartedNanos < 0 && buffer.isReadable()) {
      headStartedNanos = System.nanoTime();
    }
    int from = buffer.readerIndex();
    int decodedBefore = out.size();
    super.decode(ctx, buffer, out);
    scanHead(buffer, from, buffer.readerIndex());
    noteEnds(out, decodedBefore);
  }

  /**
   * Vert.x recognises the commonest names by a few of their bytes, so {@code Content-Xength} would
   * pass for Content-Length (a request smuggled in a body only Unbroken thinks it has); a name is
   * what its bytes say. Content-Lengths are counted here, as Netty keeps only the first of several
   * in an HTTP/1.0 request.
   */
  @Override
  protected AsciiString splitHeaderName(byte[] bytes, int start, int length) {
    AsciiString name = super.splitHeaderName(bytes, start, length);
    if (recognisedByVertx(length) && !spells(name, bytes, start, length)) {
      name = new AsciiString(bytes, start, length, true);
    }
    if (awaitingHead && length == CONTENT_LENGTH.length() && CONTENT_LENGTH.contentEqualsIgnoreCase(name)
        && ++contentLengths > 1) {
      misframing = "Content-Length is repeated";
    }
    return name;
  }

  /** The lengths of Host, Accept, Connection, Content-Type and Content-Length; other names are built from every byte. */
  private static boolean recognisedByVertx(int length) {
    return switch (length) {
      case 4, 6, 10, 12, 14 -> true;
      default -> false;
    };
  }

  private static boolean spells(AsciiString name, byte[] bytes, int start, int length) {
    for (int i = 0; i < length; i++) {
      if (lowerCase(bytes[start + i]) != lowerCase(name.byteAt(i))) {
        return false;
      }
    }
    return true;
  }

  private static int lowerCase(byte b) {
    return b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b;
  }

  /** Keeps Content-Length, and fails the request, rather than letting Transfer-Encoding win quietly. */
  @Override
  protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
    message.setDecoderResult(DecoderResult.failure(
        new Misframed("both Content-Length and Transfer-Encoding: the body could be framed two ways")));
  }

  /** Finds a line starting with whitespace after a line with content: obs-fold, or a line hidden before the fields. */
  private void scanHead(ByteBuf buffer, int from, int to) {
    int i = from;
    while (i < to && misframing == null) {
      byte first = buffer.getByte(i);
      if (afterLineWithContent && (first == ' ' || first == '\t')) {
        misframing = "a header line starts with whitespace (an obs-fold continuation, or a line before the first"
            + " field), which parsers read differently";
      }
      int lineEnd = buffer.indexOf(i, to, (byte) '\n');
      if (lineEnd < 0) {
        openLineBytes += to - i;
        afterLineWithContent = false;
        return;
      }
      // A line of CR alone is empty; leading empty lines before the request line are allowed.
      afterLineWithContent = openLineBytes + lineEnd - i > 1;
      openLineBytes = 0;
      i = lineEnd + 1;
    }
  }

  private void noteEnds(List<Object> out, int from) {
    for (int i = from; i < out.size(); i++) {
      Object decoded = out.get(i);
      if (decoded instanceof HttpMessage message) {
        headRead(message);
      }
      if (decoded instanceof LastHttpContent) {
        awaitingHead = true;
      }
    }
  }

  private void headRead(HttpMessage message) {
    if (misframing != null && message.decoderResult().isSuccess()) {
      message.setDecoderResult(DecoderResult.failure(new Misframed(misframing)));
    }
    followingChunks = message.decoderResult().isSuccess() && HttpUtil.isTransferEncodingChunked(message);
    chunks.reset();
    awaitingHead = false;
    headStartedNanos = -1;
    afterLineWithContent = false;
    openLineBytes = 0;
    contentLengths = 0;
    misframing = null;
  }

  /**
   * Fails the body instead of passing on what was decoded from it; the server then closes the
   * connection, and the exchange ends without its upstream getting a whole request.
   */
  private void refuseBody(ByteBuf buffer, List<Object> out, int decodedFrom, String why) {
    while (out.size() > decodedFrom) {
      ReferenceCountUtil.release(out.remove(out.size() - 1));
    }
    LastHttpContent refused = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
    refused.setDecoderResult(DecoderResult.failure(new Misframed(why)));
    out.add(refused);
    buffer.skipBytes(buffer.readableBytes());
    discarding = true;
  }

  /**
   * One timer per connection, not one per request: it looks at the head being awaited when it
   * fires, and comes back when that head's time would be up.
   */
  private void checkHeadIn(long nanos) {
    headCheck = context.executor().schedule(() -> {
      long waited = headStartedNanos < 0 ? 0 : System.nanoTime() - headStartedNanos;
      if (waited >= headTimeoutNanos) {
        onHeadTimeout.run();
        context.close();
      } else {
        checkHeadIn(headTimeoutNanos - waited);
      }
    }, nanos, TimeUnit.NANOSECONDS);
  }
}
