package io.unbroken.gateway;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import java.util.concurrent.TimeUnit;

/**
 * A request answered before its body was read (413, 404, 405, a timeout mid-upload). The rest of
 * the body is read and dropped so the client sees the answer rather than a reset mid-upload, then
 * the connection is closed: it must not carry another request, whatever the client does with
 * {@code Connection: close}. A client that keeps sending is cut off after {@link #GRACE_MS}.
 */
final class UnreadBody {

  static final long GRACE_MS = 2_000;

  private UnreadBody() {}

  static void discardThenClose(Vertx vertx, HttpServerRequest request) {
    if (request.version() == HttpVersion.HTTP_2) {
      // A stream of its own: the requests beside it are framed apart, so the connection stays.
      request.handler(chunk -> { });
      request.exceptionHandler(failure -> { });
      request.resume();
      return;
    }
    request.response().putHeader(HttpHeaders.CONNECTION, "close");
    // Shut down now: Vert.x then reads no request pipelined behind this one. Closing only once the
    // body has been read lets it hand over the next request first.
    request.connection().shutdown(GRACE_MS, TimeUnit.MILLISECONDS);
    if (request.isEnded()) {
      request.response().endHandler(written -> request.connection().close());
      return;
    }
    long timer = vertx.setTimer(GRACE_MS, t -> request.connection().close());
    request.handler(chunk -> { });
    request.exceptionHandler(failure -> { });
    request.endHandler(end -> {
      vertx.cancelTimer(timer);
      if (request.response().ended()) {
        request.connection().close();
      } else {
        request.response().endHandler(written -> request.connection().close());
      }
    });
    request.resume();
  }
}
