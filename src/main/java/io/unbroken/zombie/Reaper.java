package io.unbroken.zombie;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.unbroken.config.IdempotencyPolicy;
import io.unbroken.config.RouteConfig;
import io.unbroken.events.EventStore;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RequestLifecycle;
import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.unbroken.events.WrongExpectedVersion;
import io.unbroken.idempotency.Idempotency;
import io.unbroken.locks.ResourceLocks;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends the requests that dead nodes left in flight. A pass runs while this node holds the
 * cluster's reaper lease; it reads the durable in-flight rows of nodes whose liveness lease ended
 * and, in one transaction each, appends {@code RequestAbandoned} and removes the row. The append
 * expects the request's stream to hold just its opening events, so a request that recorded its own
 * end meanwhile (a node that was slow, not dead) keeps that end: every request ends exactly once.
 * Then its lock is freed and its idempotency key settled by the route's {@code unknown} policy.
 */
public final class Reaper {

  private static final Logger log = LoggerFactory.getLogger(Reaper.class);
  // Requests abandoned at once: their appends share the event store's group commits.
  static final int BATCH = 200;
  // A pass stops after this many batches; the next pass goes on where it stopped.
  private static final int MAX_BATCHES_PER_PASS = 50;

  /** What one pass did. */
  public record Pass(boolean held, int abandoned) {}

  private final OrphanedRequests orphans;
  private final EventStore events;
  private final Idempotency idempotency;
  private final ResourceLocks locks;
  private final Map<String, RouteConfig> routes;
  private final String node;
  private final Duration lease;
  private final Counter abandoned;
  private final Counter passesHeld;
  private final Counter passesSkipped;
  private final Counter passesFailed;
  private final Timer passTime;
  private final AtomicLong lagMillis = new AtomicLong();

  /** @param lease how long this node's hold on the reaper lasts without another pass */
  public Reaper(OrphanedRequests orphans, EventStore events, Idempotency idempotency, ResourceLocks locks,
      List<RouteConfig> routes, String node, Duration lease, MeterRegistry registry) {
    this.orphans = orphans;
    this.events = events;
    this.idempotency = idempotency;
    this.locks = locks;
    this.routes = routes.stream().collect(Collectors.toMap(RouteConfig::prefix, Function.identity()));
    this.node = node;
    this.lease = lease;
    this.abandoned = Counter.builder("unbroken.requests.abandoned")
        .description("Requests of dead nodes ended by the reaper with RequestAbandoned").register(registry);
    this.passesHeld = passes(registry, "reaped");
    this.passesSkipped = passes(registry, "other-node");
    this.passesFailed = passes(registry, "failed");
    this.passTime = Timer.builder("unbroken.reaper.pass").description("How long a reaper pass of this node took")
        .register(registry);
    Gauge.builder("unbroken.reaper.lag", lagMillis, millis -> millis.get() / 1000.0).baseUnit("seconds")
        .description("Age of the oldest request of a dead node found by this node's last pass (0: none)")
        .register(registry);
  }

  private static Counter passes(MeterRegistry registry, String outcome) {
    return Counter.builder("unbroken.reaper.passes").tag("outcome", outcome)
        .description("Reaper passes: run by this node, left to the node holding the lease, or failed")
        .register(registry);
  }

  /** One pass, if this node holds the reaper lease; never fails (a failure is logged and counted). */
  public Future<Pass> pass() {
    long started = System.nanoTime();
    return orphans.leaseReaper(node, lease)
        .compose(held -> held
            ? reapBatches(MAX_BATCHES_PER_PASS).map(count -> new Pass(true, count))
            : Future.succeededFuture(new Pass(false, 0)))
        .onSuccess(pass -> {
          (pass.held() ? passesHeld : passesSkipped).increment();
          if (pass.held()) {
            passTime.record(Duration.ofNanos(System.nanoTime() - started));
          }
          if (pass.abandoned() > 0) {
            log.warn("Reaper abandoned {} requests of dead nodes", pass.abandoned());
          }
        })
        .recover(failure -> {
          passesFailed.increment();
          log.warn("Reaper pass failed: {}", failure.getMessage());
          return Future.succeededFuture(new Pass(false, 0));
        });
  }

  private Future<Integer> reapBatches(int batchesLeft) {
    return orphans.ofDeadNodes(BATCH).compose(dead -> {
      List<InflightRequest> found = dead.requests();
      lagMillis.set(found.isEmpty() ? 0
          : Math.max(0, Duration.between(found.get(0).started(), dead.storeTime()).toMillis()));
      List<Future<Boolean>> ended = new ArrayList<>();
      found.forEach(orphan -> ended.add(abandon(orphan)));
      return Future.join(ended).map(all -> (int) ended.stream().filter(Future::result).count())
          .compose(count -> found.size() == BATCH && batchesLeft > 1
              ? reapBatches(batchesLeft - 1).map(more -> count + more)
              : Future.succeededFuture(count));
    });
  }

  /** True when this pass ended the request; false when it had ended on its own. */
  private Future<Boolean> abandon(InflightRequest orphan) {
    Optional<RouteConfig> route = Optional.ofNullable(routes.get(orphan.route()));
    Optional<Duration> keepUnknownFor = route
        .filter(r -> orphan.hasIdempotencyKey() && r.idempotency().unknown() == IdempotencyPolicy.Unknown.HOLD)
        .map(r -> r.idempotency().ttl());
    List<SideRow> rows = new ArrayList<>(List.of(InflightRequest.rowRemoval(orphan.requestId())));
    keepUnknownFor.flatMap(ttl -> idempotency.abandonedRow(orphan.idempotencyScope(), orphan.fingerprint(),
        orphan.requestId(), ttl)).ifPresent(rows::add);
    JsonObject data = new JsonObject().put("reason", "node-lease-expired").put("lastPhase", InflightRequest.FORWARDED)
        .put("deadNode", orphan.node()).put("reaper", node)
        .put("key", orphan.hasIdempotencyKey() ? (keepUnknownFor.isPresent() ? "held" : "released") : "none");
    NewEvent event = new NewEvent(RequestLifecycle.ABANDONED, data,
        new JsonObject().put("requestId", orphan.requestId()).put("node", node));
    return events.append(new StreamAppend(RequestLifecycle.streamOf(orphan.requestId()), ExpectedVersion.exactly(2),
            List.of(event), rows))
        .map(appended -> true)
        .recover(failure -> failure instanceof WrongExpectedVersion
            // It recorded its own end: a row left behind by nobody can only be removed.
            ? events.append(StreamAppend.rowsOnly(RequestLifecycle.ROWS_STREAM, List.of(InflightRequest.rowRemoval(orphan.requestId()))))
                .map(removed -> false)
            : Future.failedFuture(failure))
        .compose(ended -> ended ? release(orphan, route, keepUnknownFor).map(true) : Future.succeededFuture(false))
        .onSuccess(ended -> {
          if (ended) {
            abandoned.increment();
            log.info("Request {} of dead node {} abandoned ({} {})", orphan.requestId(), orphan.node(),
                orphan.method(), orphan.path());
          }
        });
  }

  /** Frees what the dead request held; what cannot be freed now runs out with its lease. */
  private Future<Void> release(InflightRequest orphan, Optional<RouteConfig> route, Optional<Duration> keepUnknownFor) {
    Future<Void> lock = route.flatMap(RouteConfig::lock).flatMap(template -> template.resourceOf(orphan.path()))
        .map(resource -> locks.releaseAbandoned(resource, orphan.requestId()))
        .orElse(Future.succeededFuture());
    Future<Void> key = orphan.hasIdempotencyKey()
        ? idempotency.settleAbandoned(orphan.idempotencyScope(), orphan.requestId(), keepUnknownFor)
            .recover(failure -> {
              log.warn("Key of abandoned request {} not settled ({}); it is free once its lease ends",
                  orphan.requestId(), failure.getMessage());
              return Future.succeededFuture();
            })
        : Future.succeededFuture();
    return Future.join(lock, key).mapEmpty();
  }
}
