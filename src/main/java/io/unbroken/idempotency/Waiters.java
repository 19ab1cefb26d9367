package io.unbroken.idempotency;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** Duplicates held until their key settles; each is woken on its own event loop. */
final class Waiters {

  private record Waiter(Context context, Promise<Void> promise) {}

  private final Map<String, List<Waiter>> byKey = new ConcurrentHashMap<>();

  Future<Void> await(Vertx vertx, String scopeKey, Duration atMost) {
    Context context = vertx.getOrCreateContext();
    Waiter waiter = new Waiter(context, Promise.promise());
    // Added inside compute, so a removal of the key's last waiter on another event loop cannot drop it.
    byKey.compute(scopeKey, (key, list) -> {
      List<Waiter> waiting = list == null ? new CopyOnWriteArrayList<>() : list;
      waiting.add(waiter);
      return waiting;
    });
    long timer = vertx.setTimer(Math.max(1, atMost.toMillis()), t -> waiter.promise().tryComplete());
    return waiter.promise().future().onComplete(done -> {
      vertx.cancelTimer(timer);
      byKey.computeIfPresent(scopeKey, (key, list) -> {
        list.remove(waiter);
        return list.isEmpty() ? null : list;
      });
    });
  }

  void wake(String scopeKey) {
    List<Waiter> waiting = byKey.get(scopeKey);
    if (waiting != null) {
      waiting.forEach(waiter -> waiter.context().runOnContext(v -> waiter.promise().tryComplete()));
    }
  }
}
