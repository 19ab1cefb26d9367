package io.unbroken.gateway;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/** A request body read whole before anything is forwarded, bounded by the route's {@code maxBody}. */
final class WholeBody {

  private WholeBody() {}

  /** The body; fails with 413 once it passes {@code maxBody}. A client expecting 100-continue is told to send it. */
  static Future<Buffer> read(HttpServerRequest request, HttpServerResponse response, long maxBody) {
    Promise<Buffer> read = Promise.promise();
    Buffer collected = Buffer.buffer();
    request.handler(chunk -> {
      if (collected.length() + chunk.length() > maxBody) {
        read.tryFail(ProxyFailure.bodyTooLarge(maxBody));
      } else {
        collected.appendBuffer(chunk);
      }
    });
    request.exceptionHandler(read::tryFail);
    request.endHandler(end -> read.tryComplete(collected));
    if (request.headers().contains(HttpHeaders.EXPECT)) {
      response.writeContinue(); // the route and size checks passed: the client may send its body
    }
    return read.future();
  }
}
