package io.unbroken.zombie;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

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

  /**
   * A request as the registry holds it: described only when someone lists what runs, so tracking
   * costs the request path nothing but a map entry, and stopped when someone asks.
   */
  public interface Running {
    InflightRequest describe();

    /** Called on the request's own event loop, at most once. */
    void cancel(CancelledBy by);
  }

  /** One request while it runs; {@link #done} once it ended, however. */
  public final class Tracked {
    private final String requestId;
    private final Running request;
    private final Context context;
    private volatile String phase;

    private Tracked(String requestId, Running request, Context context, String phase) {
      this.requestId = requestId;
      this.request = request;
      this.context = context;
      this.phase = phase;
    }

    public void phase(String now) {
      phase = now;
    }

    public void done() {
      running.remove(requestId, this);
    }
  }

  private final Map<String, Tracked> running = new ConcurrentHashMap<>();

  /** Tracks a request started on the calling event loop. */
  public Tracked track(String requestId, Running request, String phase) {
    Tracked tracked = new Tracked(requestId, request, Vertx.currentContext(), phase);
    running.put(requestId, tracked);
    return tracked;
  }

  /** Stops the request if it runs here; false when this node has no such request in flight. */
  public boolean cancel(String requestId, CancelledBy by) {
    Tracked tracked = running.remove(requestId);
    if (tracked == null) {
      return false;
    }
    tracked.context.runOnContext(v -> tracked.request.cancel(by));
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
        .map(tracked -> Map.entry(tracked.request.describe(), tracked.phase))
        .sorted(Comparator.comparing(described -> described.getKey().started()))
        .forEach(described -> requests.add(described.getKey().toJson(described.getValue())));
    return requests;
  }
}
