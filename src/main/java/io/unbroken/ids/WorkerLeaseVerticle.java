package io.unbroken.ids;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this node's worker-id lease alive. Start completes once an id is held; each heartbeat
 * renews it and moves the generator's deadline to (time the renewal was sent + lease), so the
 * generator stops issuing on its own before the lease can expire in the store, even if the
 * store stops answering. A lost lease stops issuing at once and a new id is sought on the next beat.
 */
public final class WorkerLeaseVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(WorkerLeaseVerticle.class);

  private final WorkerLeaseStore store;
  private final SnowflakeIds ids;
  private final InstantSource clock;
  private final int datacenter;
  private final String owner;
  private final Duration lease;
  private final Duration heartbeat;
  private long timerId = -1;
  private int workerId = -1;
  private boolean beating;

  public WorkerLeaseVerticle(WorkerLeaseStore store, SnowflakeIds ids, InstantSource clock, int datacenter,
      String owner, Duration lease, Duration heartbeat) {
    this.store = store;
    this.ids = ids;
    this.clock = clock;
    this.datacenter = datacenter;
    this.owner = owner;
    this.lease = lease;
    this.heartbeat = heartbeat;
  }

  @Override
  public Future<?> start() {
    return acquire().onSuccess(worker -> timerId = vertx.setPeriodic(heartbeat.toMillis(), tick -> beat()));
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timerId);
    ids.dropWorker();
    if (workerId < 0) {
      return Future.succeededFuture();
    }
    // Ids borrowed from the future (after a clock step back) must not be issued again by the next
    // holder of this worker id: hand it back only once the clock has passed the last one.
    long lead = ids.lastIssuedMillis() - clock.millis();
    Future<Void> clockPassed = lead < 0 ? Future.succeededFuture()
        : vertx.timer(lead + 1, TimeUnit.MILLISECONDS).mapEmpty();
    int worker = workerId;
    // A store that does not answer must not hold up shutdown: the lease then runs out by itself.
    return clockPassed.compose(v -> store.release(datacenter, worker, owner)
        .timeout(heartbeat.toMillis(), TimeUnit.MILLISECONDS)
        .recover(failure -> {
          log.warn("Worker id {} not given back by node {} ({}); its lease runs out within {}", worker, owner,
              failure.getMessage(), lease);
          return Future.succeededFuture();
        }));
  }

  /** The worker id held now, or -1. */
  public int workerId() {
    return workerId;
  }

  private void beat() {
    if (beating) {
      return; // the previous beat has not been answered yet
    }
    beating = true;
    Future<?> round = workerId < 0 ? acquire() : renew();
    // A store that never answers (a request lost with its connection) must not stop every later
    // beat. A late answer is still safe to apply: its deadline counts from when it was sent.
    round.timeout(heartbeat.toMillis(), TimeUnit.MILLISECONDS).onComplete(done -> beating = false);
  }

  private Future<Integer> acquire() {
    long sentAt = ids.leaseClockMillis();
    return store.acquire(datacenter, owner, lease)
        .onSuccess(worker -> {
          workerId = worker;
          ids.holdWorker(worker, sentAt + lease.toMillis());
          log.info("Leased worker id {} of datacenter {} for node {}", worker, datacenter, owner);
        })
        .onFailure(failure -> log.warn("No worker id leased for node {}: {}", owner, failure.getMessage()));
  }

  private Future<Boolean> renew() {
    long sentAt = ids.leaseClockMillis();
    int worker = workerId;
    return store.renew(datacenter, worker, owner, lease)
        .onSuccess(held -> {
          if (worker != workerId) {
            return; // a late answer about a lease this node has since replaced
          }
          if (held) {
            ids.holdWorker(worker, sentAt + lease.toMillis());
          } else {
            log.warn("Worker id {} lease lost by node {}; ids stop until a new one is leased", worker, owner);
            ids.dropWorker();
            workerId = -1;
          }
        })
        .onFailure(failure -> log.warn("Worker id {} lease renewal failed: {}", worker, failure.getMessage()));
  }
}
