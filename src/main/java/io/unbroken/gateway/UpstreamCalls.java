package io.unbroken.gateway;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.concurrent.TimeUnit;

/**
 * The upstream calls of one gateway verticle that may outlive their client (idempotent routes,
 * asynchronous requests): a graceful stop waits for them, so an answer that a retry or a monitor
 * will ask for is not cut off by the stop. Confined to the verticle's event loop.
 */
final class UpstreamCalls {

  private int running;
  private Promise<Void> drained;

  void started() {
    running++;
  }

  void ended() {
    running--;
    if (running == 0 && drained != null) {
      drained.tryComplete();
    }
  }

  /** Completes once no call runs, or after {@code maxMillis}, whichever is first. */
  Future<Void> drained(long maxMillis) {
    if (running == 0) {
      return Future.succeededFuture();
    }
    drained = Promise.promise();
    return drained.future().timeout(maxMillis, TimeUnit.MILLISECONDS).otherwiseEmpty();
  }
}
