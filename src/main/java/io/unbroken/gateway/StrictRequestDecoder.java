package io.unbroken.gateway;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.impl.VertxHttpRequestDecoder;
import io.vertx.core.net.impl.ConnectionBase;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Vert.x's HTTP/1 request decoder, made to refuse the two readings Netty settles silently, and to
 * bound how long a client may take to send a request's head.
 *
 * <p>Netty drops Content-Length when Transfer-Encoding is also present and joins obs-folded lines
 * before any handler sees the request, so the checks in {@link Framing} cannot see either; a
 * front proxy that reads the same bytes the other way is how a request is smuggled. Here both
 * mark the request as failed to decode, which the server hands to its invalid-request handler
 * (400, connection closed), and the head is read byte for byte for lines that start with
 * whitespace (RFC 9112 sections 2.2 and 5.2).
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
  private ScheduledFuture<?> headDeadline;
  private boolean awaitingHead = true;
  // Where the scan of the head being read stands; it may arrive in several reads.
  private int headLinesRead;
  private boolean atLineStart = true;
  private boolean lineHasContent;
  private String misframing;

  private StrictRequestDecoder(HttpServerOptions options, Duration headTimeout, Runnable onHeadTimeout) {
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
    armHeadDeadline();
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) throws Exception {
    disarmHeadDeadline();
    super.handlerRemoved0(ctx);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
    if (!awaitingHead) {
      super.decode(ctx, buffer, out);
      noteEnds(out, 0);
      return;
    }
    if (headDeadline == null && buffer.isReadable()) {
      armHeadDeadline();
    }
    int from = buffer.readerIndex();
    int decodedBefore = out.size();
    super.decode(ctx, buffer, out);
    scanHead(buffer, from, buffer.readerIndex());
    noteEnds(out, decodedBefore);
  }

  /** Keeps Content-Length, and fails the request, rather than letting Transfer-Encoding win quietly. */
  @Override
  protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
    message.setDecoderResult(DecoderResult.failure(
        new Misframed("both Content-Length and Transfer-Encoding: the body could be framed two ways")));
  }

  private void scanHead(ByteBuf buffer, int from, int to) {
    for (int i = from; i < to && misframing == null; i++) {
      byte b = buffer.getByte(i);
      if (b == '\n') {
        headLinesRead += lineHasContent ? 1 : 0;
        atLineStart = true;
        lineHasContent = false;
      } else {
        if (atLineStart && headLinesRead > 0 && (b == ' ' || b == '\t')) {
          misframing = "a header line starts with whitespace (an obs-fold continuation, or a line before the first"
              + " field), which parsers read differently";
        }
        atLineStart = false;
        lineHasContent |= b != '\r';
      }
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
    disarmHeadDeadline();
    awaitingHead = false;
    headLinesRead = 0;
    atLineStart = true;
    lineHasContent = false;
    misframing = null;
  }

  private void armHeadDeadline() {
    if (headTimeoutNanos > 0 && context != null) {
      headDeadline = context.executor().schedule(() -> {
        onHeadTimeout.run();
        context.close();
      }, headTimeoutNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void disarmHeadDeadline() {
    if (headDeadline != null) {
      headDeadline.cancel(false);
      headDeadline = null;
    }
  }
}
