package io.unbroken.gateway;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.time.Duration;

/**
 * A route's {@code idleTimeout}, like nginx's {@code proxy_read_timeout}: started once the whole
 * request is sent, fed by the answer's head and every chunk of its body, it calls {@code onSilent}
 * when the upstream has sent nothing for that long. One timer at a time, re-armed for what is left
 * of the timeout when it fires early, so a chunk costs a clock read and no timer.
 */
final class SilenceWatch {

  private final Vertx vertx;
  private final long timeoutNanos;
  private final Runnable onSilent;
  private long lastHeard;
  private long timerId = -1;

  SilenceWatch(Vertx vertx, Duration timeout, Runnable onSilent) {
    this.vertx = vertx;
    this.timeoutNanos = timeout.toNanos();
    this.onSilent = onSilent;
  }

  void start() {
    heard();
    schedule(timeoutNanos);
  }

  void heard() {
    lastHeard = System.nanoTime();
  }

  void stop() {
    if (timerId >= 0) {
      vertx.cancelTimer(timerId);
      timerId = -1;
    }
  }

  /** The upstream's body, each chunk of which counts as the upstream being heard. */
  ReadStream<Buffer> watch(ReadStream<Buffer> body) {
    return new HeardBody(body);
  }

  private void schedule(long nanos) {
    timerId = vertx.setTimer(Math.max(1, nanos / 1_000_000), t -> check());
  }

  private void check() {
    long quiet = System.nanoTime() - lastHeard;
    if (quiet >= timeoutNanos) {
      timerId = -1;
      onSilent.run();
    } else {
      schedule(timeoutNanos - quiet);
    }
  }

  private final class HeardBody extends ForwardingReadStream {

    HeardBody(ReadStream<Buffer> source) {
      super(source);
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> handler) {
      source.handler(handler == null ? null : chunk -> {
        heard();
        handler.handle(chunk);
      });
      return this;
    }
  }
}
