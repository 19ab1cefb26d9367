package io.unbroken.gateway;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * A request body of unknown length that fails once it passes a limit, so a chunked upload is cut
 * off at the route's {@code maxBody} while it streams instead of being buffered to be measured.
 */
final class LimitedBody extends ForwardingReadStream {

  private final long limit;
  private final Runnable onExceeded;
  private long received;
  private boolean exceeded;

  LimitedBody(ReadStream<Buffer> source, long limit, Runnable onExceeded) {
    super(source);
    this.limit = limit;
    this.onExceeded = onExceeded;
  }

  @Override
  public ReadStream<Buffer> handler(Handler<Buffer> handler) {
    source.handler(handler == null ? null : chunk -> {
      received += chunk.length();
      if (received <= limit) {
        handler.handle(chunk);
      } else if (!exceeded) {
        exceeded = true;
        onExceeded.run();
      }
    });
    return this;
  }

  @Override
  public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
    source.endHandler(endHandler == null ? null : end -> {
      if (!exceeded) {
        endHandler.handle(end);
      }
    });
    return this;
  }
}
