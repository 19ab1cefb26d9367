package io.unbroken.idempotency;

import com.google.common.collect.Lists;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable answers of routes that record no events, written behind their requests: nobody waits for
 * them (the primary store had each answer before its client heard), so the answers of one window
 * share one statement and one commit. A full unit goes at once, without waiting for the window.
 */
final class DurableWriteBehind {

  private static final Logger log = LoggerFactory.getLogger(DurableWriteBehind.class);
  // Answers written by one statement, however long the wait.
  static final int MAX_PER_UNIT = 1000;

  private final Vertx vertx;
  private final DurableAnswers store;
  private final Duration window;
  private final Queue<DurableAnswer> pending = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pendingCount = new AtomicInteger();
  private final AtomicBoolean flushQueued = new AtomicBoolean();
  // Writes under way, each registered before it takes its answers from the queue.
  private final Set<Future<Void>> writing = ConcurrentHashMap.newKeySet();

  DurableWriteBehind(Vertx vertx, DurableAnswers store, Duration window) {
    this.vertx = vertx;
    this.store = store;
    this.window = window;
  }

  void add(DurableAnswer answer) {
    pending.add(answer);
    if (pendingCount.incrementAndGet() == MAX_PER_UNIT) {
      // The window's timer stays, for the answers after this unit.
      vertx.runOnContext(v -> send());
    } else if (flushQueued.compareAndSet(false, true)) {
      if (window.isZero()) {
        vertx.runOnContext(v -> flush());
      } else {
        vertx.setTimer(window.toMillis(), t -> flush());
      }
    }
  }

  /**
   * Writes the answers still gathering now (a graceful stop); completes once they are written, and
   * so are those another event loop's write took from the queue before this one could.
   */
  Future<Void> flush() {
    flushQueued.set(false);
    List<Future<Void>> written = new ArrayList<>(writing);
    written.add(send());
    return Future.join(written).mapEmpty();
  }

  private Future<Void> send() {
    Promise<Void> underWay = Promise.promise();
    writing.add(underWay.future());
    List<DurableAnswer> answers = new ArrayList<>();
    for (DurableAnswer answer = pending.poll(); answer != null; answer = pending.poll()) {
      answers.add(answer);
    }
    pendingCount.addAndGet(-answers.size());
    List<Future<Void>> written = new ArrayList<>();
    for (List<DurableAnswer> unit : Lists.partition(answers, MAX_PER_UNIT)) {
      written.add(store.saveAll(unit).recover(failure -> {
        log.error("{} durable answers not written: {}", unit.size(), failure.getMessage());
        return Future.succeededFuture();
      }));
    }
    Future<Void> all = Future.join(written).mapEmpty();
    all.onComplete(finished -> {
      writing.remove(underWay.future());
      underWay.complete();
    });
    return all;
  }
}
