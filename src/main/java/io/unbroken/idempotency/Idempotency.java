package io.unbroken.idempotency;

import com.google.common.base.Ticker;
import io.unbroken.events.SideRow;
import io.unbroken.ids.HybridLogicalClock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's idempotency keys (DESIGN.md section 3, steps 4, 8 and 9).
 *
 * <p>A claim goes to the primary store (Redis). When the key filter may have seen the key and the
 * primary had nothing, the durable answers are asked before anything is forwarded: Redis may have
 * lost the key, PostgreSQL has not. When the primary cannot be reached, claims go to the fallback
 * store (PostgreSQL) until a heartbeat finds the primary again; meanwhile the node reports itself
 * degraded. A request whose claim could not be recorded anywhere fails, so it is never forwarded.
 *
 * <p>Every claim this node holds is remembered with the store that granted it, so completion and
 * release go there, and the heartbeat renews all of them in one round trip per store. A settled
 * key wakes this node's waiters at once and is published, a few milliseconds later with the keys
 * settled meanwhile, on the (clustered) event bus: duplicates waiting on any node try again and
 * every node's filter learns the key.
 */
public final class Idempotency {

  private static final Logger log = LoggerFactory.getLogger(Idempotency.class);
  // Bytes of answers kept in memory for retries of hot keys.
  private static final long RECENT_ANSWERS_BYTES = 16L << 20;
  // How long notices gather before one message takes them to every node.
  private static final long NOTICE_BATCH_MS = 5;

  private final Vertx vertx;
  private final ClaimStore primary;
  private final Optional<ClaimStore> fallback;
  private final Optional<DurableAnswers> durable;
  private final boolean durableIsSeparate;
  private final KeyFilter filter;
  private final IdempotencyMetrics metrics;
  private final HybridLogicalClock hlc;
  private final Duration lease;
  private final Map<ClaimStore.HeldClaim, ClaimStore> held = new ConcurrentHashMap<>();
  private final Waiters waiters = new Waiters();
  private final RecentAnswers recentAnswers;
  // Why claims go to the fallback store; null while the primary takes them.
  private final AtomicReference<String> degradedReason = new AtomicReference<>();
  private final String origin = UUID.randomUUID().toString();
  private final Queue<JsonObject> unsentNotices = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean noticesQueued = new AtomicBoolean();
  private final Optional<DurableWriteBehind> writeBehind;

  /** As below, with durable answers written behind their requests on the next event-loop turn, without a window. */
  public Idempotency(Vertx vertx, ClaimStore primary, Optional<ClaimStore> fallback, Optional<DurableAnswers> durable,
      KeyFilter filter, IdempotencyMetrics metrics, Ticker ticker, HybridLogicalClock hlc, Duration lease) {
    this(vertx, primary, fallback, durable, filter, metrics, ticker, hlc, lease, Duration.ZERO);
  }

  /**
   * @param durable where completed answers outlive the primary: PostgreSQL, the primary itself
   *     (embedded: then nothing is looked up twice), or nothing (Redis alone)
   * @param ticker this node's monotonic time, for how long answers are kept in memory
   * @param hlc stamps the notices this node sends, and learns from those it receives
   * @param writeBehind how long the durable answers of routes without events gather before one
   *     statement writes them all ({@link #completeAndKeep})
   */
  public Idempotency(Vertx vertx, ClaimStore primary, Optional<ClaimStore> fallback, Optional<DurableAnswers> durable,
      KeyFilter filter, IdempotencyMetrics metrics, Ticker ticker, HybridLogicalClock hlc, Duration lease,
      Duration writeBehind) {
    this.vertx = vertx;
    this.primary = primary;
    this.fallback = fallback;
    this.durable = durable;
    this.durableIsSeparate = durable.isPresent() && durable.get() != primary;
    this.filter = filter;
    this.metrics = metrics;
    this.hlc = hlc;
    this.lease = lease;
    this.recentAnswers = new RecentAnswers(RECENT_ANSWERS_BYTES, ticker);
    this.writeBehind = durableIsSeparate ? durable.map(store -> new DurableWriteBehind(vertx, store, writeBehind))
        : Optional.empty();
  }

  /** A ticket for this attempt, with the node's claim lease and the route's time to live. */
  public ClaimTicket ticket(String scopeKey, String fingerprint, String owner, Duration ttl) {
    return new ClaimTicket(scopeKey, fingerprint, owner, lease, ttl);
  }

  /** Claims the ticket's key; fails when no store could record the claim. */
  public Future<Claim> claim(ClaimTicket ticket) {
    Optional<Claim> recent = recentAnswers.lookup(ticket.scopeKey(), ticket.fingerprint());
    if (recent.isPresent()) {
      if (recent.get() instanceof Claim.Completed completed) {
        learnClock(completed);
      }
      return Future.succeededFuture(recent.get());
    }
    String degraded = degradedReason.get();
    Future<Claim> claimed = degraded != null ? claimInFallback(ticket, degraded)
        : primary.claim(ticket).transform(result -> result.succeeded()
            ? claimedInPrimary(ticket, result.result())
            // Only a primary that cannot be reached sends claims elsewhere.
            : result.cause() instanceof ClaimStoreUnavailable ? failOver(ticket, result.cause())
            : Future.failedFuture(result.cause()));
    return claimed.onSuccess(claim -> {
      if (claim instanceof Claim.Completed completed) {
        recentAnswers.remember(ticket.scopeKey(), ticket.fingerprint(), completed);
        learnClock(completed);
      }
    });
  }

  /** A claim Redis granted still has to pass the durable answers; what it found otherwise stands. */
  private Future<Claim> claimedInPrimary(ClaimTicket ticket, Claim claim) {
    hold(claim, ticket, primary);
    return claim instanceof Claim.Claimed ? checkDurable(ticket) : Future.succeededFuture(claim);
  }

  private Future<Claim> failOver(ClaimTicket ticket, Throwable failure) {
    if (fallback.isEmpty()) {
      return Future.failedFuture(failure);
    }
    String reason = "claims store unreachable: " + failure.getMessage();
    if (degradedReason.compareAndSet(null, reason)) {
      log.warn("Idempotency keys are claimed in PostgreSQL until Redis answers again ({})", reason);
    }
    return claimInFallback(ticket, reason);
  }

  private Future<Claim> claimInFallback(ClaimTicket ticket, String reason) {
    if (fallback.isEmpty()) {
      return Future.failedFuture(reason);
    }
    metrics.fallback();
    // Every node's filter must send later claims of this key (Redis back, or a retry elsewhere) to this record.
    filter.add(ticket.scopeKey());
    publish(ticket.scopeKey(), KeyNotice.CLAIMED_ELSEWHERE);
    return fallback.get().claim(ticket).onSuccess(claim -> hold(claim, ticket, fallback.get()));
  }

  /** A replay orders after the answer it replays, whichever node's clock stamped that answer. */
  private void learnClock(Claim.Completed completed) {
    if (completed.answer().hlc() != 0) {
      hlc.receive(completed.answer().hlc());
    }
  }

  /** The primary had nothing: trust it unless the filter may have seen the key completed or claimed elsewhere. */
  private Future<Claim> checkDurable(ClaimTicket ticket) {
    if (!durableIsSeparate) {
      return Future.succeededFuture(Claim.CLAIMED);
    }
    if (!filter.mightContain(ticket.scopeKey())) {
      metrics.filterNegative();
      return Future.succeededFuture(Claim.CLAIMED);
    }
    return durable.get().find(ticket.scopeKey(), ticket.fingerprint())
        .transform(found -> {
          if (found.failed()) {
            // Unchecked, the key must not be forwarded; nor held, or its retries would wait for nothing.
            return giveBackQuietly(ticket).transform(given -> Future.failedFuture(found.cause()));
          }
          if (found.result().isEmpty()) {
            metrics.filterFalsePositive();
            return Future.succeededFuture(Claim.CLAIMED);
          }
          metrics.durableHit();
          return giveBackQuietly(ticket).map(found.result().get());
        });
  }

  private void hold(Claim claim, ClaimTicket ticket, ClaimStore store) {
    if (claim instanceof Claim.Claimed) {
      held.put(new ClaimStore.HeldClaim(ticket.scopeKey(), ticket.owner()), store);
    }
  }

  /**
   * Stores the attempt's final answer where its claim was granted, then tells every node. The
   * durable copy is written by the caller, with the request's completion event ({@link #durableRow}).
   * The client gets its answer once the store has it, so a retry the answer prompts finds the key
   * completed, and a crash after the answer cannot leave the key to run again.
   */
  public Future<Void> complete(ClaimTicket ticket, StoredAnswer answer) {
    return completeStamped(ticket, answer.stampedAt(hlc.now()));
  }

  /**
   * As {@link #complete}, for a route whose completion records no event to carry the durable copy:
   * that is written here, behind the answer, with the other answers of the write-behind window.
   */
  public Future<Void> completeAndKeep(ClaimTicket ticket, StoredAnswer answer, String requestId) {
    StoredAnswer stamped = answer.stampedAt(hlc.now());
    boolean keptDurably = writeBehind.isPresent()
        && held.get(new ClaimStore.HeldClaim(ticket.scopeKey(), ticket.owner())) != durable.get();
    return completeStamped(ticket, stamped).onComplete(done -> {
      if (keptDurably) {
        writeBehind.get().add(new DurableAnswer(ticket.scopeKey(), ticket.fingerprint(), stamped, requestId, ticket.ttl()));
      }
    });
  }

  /** Writes the durable answers still gathering now (a graceful stop); completes once they are written. */
  public Future<Void> flushDurable() {
    return writeBehind.map(DurableWriteBehind::flush).orElse(Future.succeededFuture());
  }

  private Future<Void> completeStamped(ClaimTicket ticket, StoredAnswer stamped) {
    ClaimStore store = held.remove(new ClaimStore.HeldClaim(ticket.scopeKey(), ticket.owner()));
    if (store == null) {
      return Future.failedFuture("the claim on this key is no longer held");
    }
    filter.add(ticket.scopeKey());
    return store.complete(ticket.scopeKey(), ticket.owner(), stamped, ticket.ttl())
        .onSuccess(kept -> {
          // Not remembered here: most keys are never retried, and answers kept for a minute in
          // memory would outlive young collections by the thousand. A first replay remembers it.
          if (!kept) {
            // Its lease ended before the answer came (the heartbeat could not renew it): another
            // attempt may have run. Nothing can undo that now; it must at least be seen.
            metrics.leaseLost();
            log.error("The claim of request {} on its key ended before its answer was stored", ticket.owner());
          }
        })
        .<Void>mapEmpty()
        .onComplete(done -> publish(ticket.scopeKey(), KeyNotice.COMPLETED));
  }

  /**
   * Gives back a claim taken only to look further, without telling anyone: the key did not change
   * hands, and a notice would wake its waiters to claim, look and give back again at once.
   */
  private Future<Void> giveBackQuietly(ClaimTicket ticket) {
    ClaimStore store = held.remove(new ClaimStore.HeldClaim(ticket.scopeKey(), ticket.owner()));
    return store == null ? Future.succeededFuture() : store.release(ticket.scopeKey(), ticket.owner());
  }

  /** Frees the key so the next attempt runs again. */
  public Future<Void> release(ClaimTicket ticket) {
    ClaimStore store = held.remove(new ClaimStore.HeldClaim(ticket.scopeKey(), ticket.owner()));
    if (store == null) {
      return Future.succeededFuture();
    }
    return store.release(ticket.scopeKey(), ticket.owner())
        .onComplete(done -> publish(ticket.scopeKey(), KeyNotice.RELEASED));
  }

  /**
   * Frees a key kept as an unknown outcome in whichever store keeps it, once an operator resolved
   * it: the next attempt runs again. False when no store kept it that way.
   */
  public Future<Boolean> forgetUnknown(String scopeKey) {
    List<Future<Boolean>> forgotten = new ArrayList<>(List.of(primary.forgetUnknown(scopeKey)));
    fallback.ifPresent(store -> forgotten.add(store.forgetUnknown(scopeKey)));
    recentAnswers.forget(scopeKey);
    return Future.all(forgotten)
        .map(all -> forgotten.stream().anyMatch(Future::result))
        .onSuccess(any -> {
          if (any) {
            publish(scopeKey, KeyNotice.RELEASED);
          }
        });
  }

  /**
   * The durable record of an answer, as a row to commit with the completion event when the durable
   * store shares the event store's database; empty when there is nothing more to write: also for a
   * claim held in the durable store itself (Redis down), which {@link #complete} completes there.
   */
  public Optional<SideRow> durableRow(ClaimTicket ticket, StoredAnswer answer, String requestId) {
    if (!durableIsSeparate
        || held.get(new ClaimStore.HeldClaim(ticket.scopeKey(), ticket.owner())) == durable.get()) {
      return Optional.empty();
    }
    return durable.get().sideRow(new DurableAnswer(ticket.scopeKey(), ticket.fingerprint(), answer.stampedAt(hlc.now()),
        requestId, ticket.ttl()));
  }

  /**
   * The durable record of an abandoned attempt's unknown outcome (its node died), as a row to
   * commit with its {@code RequestAbandoned} event; empty where {@link #settleAbandoned} keeps it.
   */
  public Optional<SideRow> abandonedRow(String scopeKey, String fingerprint, String requestId, Duration ttl) {
    return durableIsSeparate
        ? durable.get().sideRow(new DurableAnswer(scopeKey, fingerprint, StoredAnswer.UNKNOWN.stampedAt(hlc.now()),
            requestId, ttl))
        : Optional.empty();
  }

  /**
   * Settles the key of an attempt whose node died, wherever that node claimed it: freed for a
   * retry, or, with {@code keepUnknownFor}, kept as an unknown outcome that retries are refused
   * with. Only a claim {@code owner} still holds is changed: a retry that claimed the key since
   * keeps it. Waiters on every node hear of it.
   */
  public Future<Void> settleAbandoned(String scopeKey, String owner, Optional<Duration> keepUnknownFor) {
    List<ClaimStore> stores = new ArrayList<>(List.of(primary));
    fallback.ifPresent(stores::add);
    keepUnknownFor.ifPresent(ttl -> filter.add(scopeKey));
    List<Future<?>> settled = stores.stream().<Future<?>>map(store -> keepUnknownFor.isPresent()
            ? store.complete(scopeKey, owner, StoredAnswer.UNKNOWN.stampedAt(hlc.now()), keepUnknownFor.get())
            : store.release(scopeKey, owner))
        .toList();
    return Future.join(settled).<Void>mapEmpty()
        .onComplete(done -> publish(scopeKey, keepUnknownFor.isPresent() ? KeyNotice.COMPLETED : KeyNotice.RELEASED));
  }

  /** Completes when the key is settled anywhere in the cluster, or after {@code atMost}, whichever is first. */
  public Future<Void> awaitSettled(String scopeKey, Duration atMost) {
    return waiters.await(vertx, scopeKey, atMost);
  }

  /** Why claims are going to the fallback store, when they are. */
  public Optional<String> degraded() {
    return Optional.ofNullable(degradedReason.get());
  }

  /** One heartbeat: renews every held claim, and returns to the primary once it answers. */
  Future<Void> heartbeat(Supplier<Future<?>> primaryProbe) {
    Future<Void> primaryRenewed = primary.renew(heldIn(primary), lease);
    Future<Void> fallbackRenewed = fallback.map(store -> store.renew(heldIn(store), lease))
        .orElse(Future.succeededFuture());
    Future<?> recovered = degradedReason.get() == null ? Future.succeededFuture()
        : primaryProbe.get().onSuccess(alive -> {
          degradedReason.set(null);
          log.info("Redis answers again: idempotency keys are claimed there again");
        });
    return Future.join(primaryRenewed, fallbackRenewed, recovered).mapEmpty();
  }

  /**
   * Learns what other nodes did with their keys: waiters here try again once a key settled; the
   * filter learns every key kept. This node's own notices were applied when it sent them. The
   * sender's hybrid clock moves this node's, so what this node records next orders after what the
   * sender recorded before it sent them.
   */
  void onNotices(JsonObject batch) {
    if (origin.equals(batch.getString("origin"))) {
      return;
    }
    hlc.receive(batch.getLong("hlc"));
    for (Object item : batch.getJsonArray("notices")) {
      JsonObject notice = (JsonObject) item;
      String scopeKey = notice.getString("scope");
      KeyNotice kind = KeyNotice.valueOf(notice.getString("kind"));
      if (kind != KeyNotice.RELEASED) {
        filter.add(scopeKey);
      } else {
        recentAnswers.forget(scopeKey); // a key freed after it was kept as an unknown outcome
      }
      if (kind != KeyNotice.CLAIMED_ELSEWHERE) {
        waiters.wake(scopeKey);
      }
    }
  }

  /** Loads the keys of every live durable answer into the filter (at start). */
  Future<Long> rebuildFilter() {
    if (!durableIsSeparate) {
      return Future.succeededFuture(0L);
    }
    AtomicLong loaded = new AtomicLong();
    return durable.get().forEachLiveKey(keys -> {
      keys.forEach(filter::add);
      loaded.addAndGet(keys.size());
    }).map(done -> loaded.get());
  }

  Future<Integer> purgeExpired() {
    return durable.map(DurableAnswers::purgeExpired).orElse(Future.succeededFuture(0));
  }

  private List<ClaimStore.HeldClaim> heldIn(ClaimStore store) {
    return held.entrySet().stream().filter(entry -> entry.getValue() == store).map(Map.Entry::getKey).toList();
  }

  /**
   * What every node hears of a key: completed (waiters replay it, filters learn it), released
   * (waiters try again) or claimed in PostgreSQL (filters learn it, so no node trusts Redis alone for it).
   */
  private enum KeyNotice { COMPLETED, RELEASED, CLAIMED_ELSEWHERE }

  /**
   * Wakes this node's waiters at once and sends the notice to every node with the others of the
   * next {@link #NOTICE_BATCH_MS}: one event-bus message then carries many keys, instead of a
   * message and a wakeup of the listening event loop per request.
   */
  private void publish(String scopeKey, KeyNotice kind) {
    if (kind != KeyNotice.CLAIMED_ELSEWHERE) {
      waiters.wake(scopeKey);
    }
    unsentNotices.add(new JsonObject().put("scope", scopeKey).put("kind", kind.name()));
    if (noticesQueued.compareAndSet(false, true)) {
      vertx.setTimer(NOTICE_BATCH_MS, t -> sendNotices());
    }
  }

  /** Sends the notices not sent yet (also when the node stops). */
  void sendNotices() {
    noticesQueued.set(false);
    JsonArray notices = new JsonArray();
    for (JsonObject notice = unsentNotices.poll(); notice != null; notice = unsentNotices.poll()) {
      notices.add(notice);
    }
    if (!notices.isEmpty()) {
      vertx.eventBus().publish(IdempotencyAddresses.KEY_NOTICES,
          new JsonObject().put("origin", origin).put("hlc", hlc.now()).put("notices", notices));
    }
  }
}
