package io.unbroken.platform;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxBootstrap;
import io.vertx.core.spi.VertxServiceProvider;
import io.vertx.core.spi.context.storage.ContextLocal;

/**
 * The request id of the request being handled, kept on its Vert.x duplicated context rather than
 * in a thread-local: an event loop interleaves many requests, so a thread-local MDC would print
 * the wrong id. Registered as a Vert.x service so the local exists before any context is created.
 */
public final class RequestScope implements VertxServiceProvider {

  private static final ContextLocal<String> REQUEST_ID = ContextLocal.registerLocal(String.class);

  @Override
  public void init(VertxBootstrap builder) {
    // Loading this class registered the local; nothing else to set up.
  }

  /** Binds {@code requestId} to the current request's context, so log lines carry it. */
  public static void bind(String requestId) {
    Context context = Vertx.currentContext();
    if (context != null) {
      context.putLocal(REQUEST_ID, requestId);
    }
  }

  /** The request id bound to the current context, or null outside a request. */
  public static String current() {
    Context context = Vertx.currentContext();
    return context == null ? null : context.getLocal(REQUEST_ID);
  }
}
