package io.unbroken.zombie;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * This node's requests in flight, on every route, each with a way to stop it. Shared by the
 * node's gateway verticles, so it is safe from any thread; a cancellation runs on the event loop
 * of the request it stops.
 */
public final class InflightRegistry {

  /** Who ended a request that had not finished: recorded as {@code by} in its {@code RequestCancelled}. */
  public enum CancelledBy {
    OPERATOR, CLIENT, CLIENT_HEARTBEAT_LOST, UPSTREAM_SILENT, DEADLINE, SHUTDOWN;

    public String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  /** One request while it runs; {@link #done} once it ended, however. */
  public final class Tracked {
    private final InflightRequest request;
    private final Context context;
    private final Consumer<CancelledBy> cancel;
    private volatile String phase;

    private Tracked(InflightRequest request, Context context, Consumer<CancelledBy> cancel, String phase) {
      this.request = request;
      this.context = context;
      this.cancel = cancel;
      this.phase = phase;
    }

    public void phase(String now) {
      phase = now;
    }

    public void done() {
      running.remove(request.requestId(), this);
    }
  }

  private final Map<String, Tracked> running = new ConcurrentHashMap<>();

  /**
   * Tracks a request started on the calling event loop; {@code cancel} is called on that loop
   * when someone asks to stop it, at most once.
   */
  public Tracked track(InflightRequest request, String phase, Consumer<CancelledBy> cancel) {
    Tracked tracked = new Tracked(request, Vertx.currentContext(), cancel, phase);
    running.put(request.requestId(), tracked);
    return tracked;
  }

  /** Stops the request if it runs here; false when this node has no such request in flight. */
  public boolean cancel(String requestId, CancelledBy by) {
    Tracked tracked = running.remove(requestId);
    if (tracked == null) {
      return false;
    }
    tracked.context.runOnContext(v -> tracked.cancel.accept(by));
    return true;
  }

  /** Stops every request in flight here (a node out of time to drain). */
  public void cancelAll(CancelledBy by) {
    running.keySet().forEach(requestId -> cancel(requestId, by));
  }

  /** The requests in flight now, oldest first. */
  public JsonArray snapshot() {
    JsonArray requests = new JsonArray();
    running.values().stream()
        .sorted(Comparator.comparing((Tracked t) -> t.request.started()))
        .forEach(t -> requests.add(t.request.toJson(t.phase)));
    return requests;
  }

  public int size() {
    return running.size();
  }
}
