package io.unbroken.saga;

import io.unbroken.config.SagaConfig;
import io.unbroken.events.EventStore;
import io.unbroken.events.ExpectedVersion;
import io.unbroken.events.NewEvent;
import io.unbroken.events.RecordedEvent;
import io.unbroken.events.SideRow;
import io.unbroken.events.StreamAppend;
import io.unbroken.events.WrongExpectedVersion;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs this node's sagas on one event loop. A saga started here is owned from its first event;
 * every heartbeat the node extends its leases and takes the active sagas whose owner's lease ran
 * out, folds each from its stream, appends {@code SagaResumed} with the new fencing token and goes
 * on from where the log stands, making a call whose answer was not recorded again under the same
 * Idempotency-Key. Every transition is appended at exactly the version its owner folded: a node
 * that lost a saga finds the stream moved by the new owner's {@code SagaResumed}, and stops.
 */
public final class SagaCoordinator extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(SagaCoordinator.class);
  // Sagas one node runs at once; past it, orphans are left to the other nodes or the next beat.
  private static final int CAPACITY = 5_000;
  private static final int TAKE_OVER_BATCH = 500;
  // A store that failed a transition is given this long before the saga is read back and resumed.
  private static final long STORE_RETRY_MS = 1_000;
  // Counting the review queue reads the whole status index: often enough for a gauge, no more.
  private static final long REVIEW_COUNT_EVERY_NANOS = 15_000_000_000L;

  /** A saga this node runs under fencing token {@code fence}, with the clients waiting for its end. */
  private static final class Run {
    final SagaConfig saga;
    final long fence;
    SagaState state;
    final List<Message<JsonObject>> waiting = new ArrayList<>();
    boolean lost;

    Run(SagaConfig saga, long fence, SagaState state) {
      this.saga = saga;
      this.fence = fence;
      this.state = state;
    }
  }

  /** One event of a transition: its type and data. */
  private record Change(String type, JsonObject data) {}

  private final Map<String, SagaConfig> sagas;
  private final EventStore events;
  private final SagaStore store;
  private final String node;
  private final Duration lease;
  private final Duration heartbeat;
  private final SagaMetrics metrics;
  private final InstantSource clock;
  private final Map<String, Run> runs = new HashMap<>();
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private StepCalls calls;
  private long beat;
  private boolean lookingAround;
  private long reviewCountedAt = System.nanoTime() - REVIEW_COUNT_EVERY_NANOS;

  public SagaCoordinator(List<SagaConfig> sagas, EventStore events, SagaStore store, String node, Duration lease,
      Duration heartbeat, SagaMetrics metrics, InstantSource clock) {
    this.sagas = sagas.stream().collect(Collectors.toMap(SagaConfig::name, Function.identity()));
    this.events = events;
    this.store = store;
    this.node = node;
    this.lease = lease;
    this.heartbeat = heartbeat;
    this.metrics = metrics;
    this.clock = clock;
  }

  @Override
  public Future<?> start() {
    calls = new StepCalls(vertx);
    consumers.add(vertx.eventBus().<JsonObject>localConsumer(SagaAddresses.START, this::begin));
    consumers.add(vertx.eventBus().localConsumer(SagaAddresses.LOOK_AROUND, message -> lookAround()));
    beat = vertx.setPeriodic(heartbeat.toMillis(), t -> lookAround());
    lookAround();
    return Future.succeededFuture();
  }

  /** Stops running sagas and gives their leases back, so another node resumes them at its next beat. */
  @Override
  public Future<?> stop() {
    vertx.cancelTimer(beat);
    runs.values().forEach(run -> run.lost = true);
    runs.clear();
    return Future.join(consumers.stream().map(MessageConsumer::unregister).toList())
        .eventually(() -> store.release(node))
        .eventually(calls::close);
  }

  private void begin(Message<JsonObject> message) {
    JsonObject body = message.body();
    SagaConfig saga = sagas.get(body.getString("saga"));
    SagaState state = new SagaState(body.getString("id"));
    JsonObject data = new JsonObject().put("name", saga.name()).put("input", body.getJsonObject("input"))
        .put("node", node).put("fence", 1L).put("requestId", body.getString("requestId"))
        .put("followToken", body.getString("followToken"));
    Run run = new Run(saga, 1, state);
    run.waiting.add(message);
    transition(run, SagaEvents.STARTED, data, SagaEvents.created(node, lease), ExpectedVersion.NO_STREAM)
        .onSuccess(appended -> {
          metrics.started(saga.name());
          runs.put(state.id(), run);
          advance(run);
        })
        .onFailure(failure -> {
          if (failure instanceof WrongExpectedVersion) {
            message.fail(SagaClient.ALREADY_STARTED, "saga " + state.id() + " exists");
          } else {
            beginInDoubt(run, failure);
          }
        });
  }

  /**
   * The start's append failed without saying whether it was written (a timeout may commit later):
   * the log decides. Recorded, the saga is this node's to run; not, it never began.
   */
  private void beginInDoubt(Run run, Throwable failure) {
    String sagaId = run.state.id();
    events.readStream(SagaEvents.streamOf(sagaId), 1, Instant.MAX)
        .onSuccess(recorded -> {
          if (recorded.isEmpty()) {
            run.waiting.forEach(message -> message.fail(503, "the saga was not recorded: " + failure.getMessage()));
            return;
          }
          metrics.started(run.saga.name());
          run.state = fold(sagaId, recorded);
          runs.put(sagaId, run);
          advance(run);
        })
        // Still unknown: its lease runs out if it was written, and a node then runs it.
        .onFailure(again -> run.waiting.forEach(message -> message.fail(503,
            "whether the saga was recorded is not known yet: " + again.getMessage())));
  }

  /** Extends this node's leases, lets go of sagas it no longer owns, and takes orphans. */
  private void lookAround() {
    if (lookingAround) {
      return;
    }
    lookingAround = true;
    long now = System.nanoTime();
    store.renew(node, Set.copyOf(runs.keySet()), lease)
        .onSuccess(lost -> lost.stream().map(runs::get).filter(run -> run != null)
            .forEach(run -> lose(run, "its lease ended and another node owns it")))
        .compose(v -> runs.size() >= CAPACITY ? Future.succeededFuture(List.<SagaStore.Owned>of())
            : store.takeOver(node, lease, Math.min(TAKE_OVER_BATCH, CAPACITY - runs.size())))
        .onSuccess(taken -> taken.forEach(this::resume))
        .compose(v -> countReview(now))
        .onFailure(failure -> log.warn("Saga leases not renewed: {}", failure.getMessage()))
        .onComplete(done -> lookingAround = false);
  }

  private Future<Void> countReview(long now) {
    if (now - reviewCountedAt < REVIEW_COUNT_EVERY_NANOS) {
      return Future.succeededFuture();
    }
    reviewCountedAt = now;
    return store.count().onSuccess(counts -> metrics.reviewDepth(counts.get(SagaStatus.REVIEW))).mapEmpty();
  }

  private void resume(SagaStore.Owned owned) {
    Run stale = runs.remove(owned.sagaId());
    if (stale != null) {
      stale.lost = true; // this node lost and took it back: the log, not memory, says where it stands
    }
    events.readStream(SagaEvents.streamOf(owned.sagaId()), 1, Instant.MAX)
        .onSuccess(recorded -> {
          SagaState state = fold(owned.sagaId(), recorded);
          SagaConfig saga = sagas.get(state.name());
          if (saga == null) {
            log.error("Saga {} is a '{}', which this node's configuration does not define; it is left to a node that does",
                owned.sagaId(), state.name());
            return;
          }
          Run run = new Run(saga, owned.fence(), state);
          if (stale != null) {
            run.waiting.addAll(stale.waiting);
          }
          runs.put(owned.sagaId(), run);
          announceOwnership(run);
        })
        .onFailure(failure -> log.warn("Saga {} not resumed: {}", owned.sagaId(), failure.getMessage()));
  }

  /** Appends {@code SagaResumed} under this node's fencing token, which moves the stream past any earlier owner. */
  private void announceOwnership(Run run) {
    JsonObject data = new JsonObject().put("node", node).put("fence", run.fence);
    transition(run, SagaEvents.RESUMED, data, Map.of(), next(run))
        .onSuccess(v -> {
          log.info("Saga {} resumed on this node at {} under fencing token {}", run.state.id(),
              run.state.currentStep().isEmpty() ? "its start" : run.state.currentStep(), run.fence);
          advance(run);
        })
        .onFailure(failure -> transitionFailed(run, failure));
  }

  static SagaState fold(String sagaId, List<RecordedEvent> recorded) {
    SagaState state = new SagaState(sagaId);
    recorded.forEach(event -> state.apply(event.type(), event.data(), event.recordedAt()));
    return state;
  }

  /** Takes the saga's next move, then the one after, until it ends, waits for a person, or is lost. */
  private void advance(Run run) {
    if (run.lost) {
      return;
    }
    SagaState.Move move = run.state.next(run.saga);
    Future<Void> moved;
    if (move instanceof SagaState.Call call) {
      moved = (call.afterFailure() ? backoff(run.saga, call.attempt() - 1) : Future.<Void>succeededFuture())
          .compose(v -> run.lost ? Future.failedFuture(new Lost()) : callStep(run, call));
    } else if (move instanceof SagaState.Complete) {
      moved = transition(run, SagaEvents.COMPLETED, new JsonObject(), Map.of(), next(run));
    } else if (move instanceof SagaState.Compensated) {
      moved = transition(run, SagaEvents.COMPENSATED, new JsonObject().put("failedStep", run.state.failedStep()),
          Map.of(), next(run));
    } else {
      finish(run);
      return;
    }
    moved.onSuccess(v -> advance(run)).onFailure(failure -> transitionFailed(run, failure));
  }

  private Future<Void> callStep(Run run, SagaState.Call call) {
    SagaConfig.Step step = run.saga.steps().get(call.step());
    String saga = run.saga.name();
    if (call.afterFailure()) {
      metrics.retry(saga, call.compensation());
    } else if (call.compensation() && call.attempt() == 1) {
      metrics.compensationStarted(saga);
    }
    String announced = call.compensation() ? SagaEvents.COMPENSATION_STARTED : SagaEvents.STEP_STARTED;
    return transition(run, announced, SagaEvents.data(step.name(), call.attempt()), Map.of(), next(run))
        .compose(v -> calls.call(run.saga, step, call.compensation(), run.state))
        .compose(attempt -> {
          metrics.call(saga, call.compensation(), attempt.verdict());
          return call.compensation() ? compensated(run, step, call, attempt) : acted(run, step, call, attempt);
        });
  }

  private Future<Void> acted(Run run, SagaConfig.Step step, SagaState.Call call, StepCalls.Attempt attempt) {
    JsonObject data = SagaEvents.data(step.name(), call.attempt()).put("answer", attempt.answer());
    if (attempt.verdict() == StepCalls.Verdict.SUCCEEDED) {
      return transition(run, SagaEvents.STEP_SUCCEEDED, data, Map.of(), next(run));
    }
    boolean last = attempt.verdict() == StepCalls.Verdict.FAILED || call.attempt() >= run.saga.retry().attempts();
    data.put("final", last).put("inDoubt", attempt.inDoubt()).put("reason", attempt.reason());
    return transition(run, SagaEvents.STEP_FAILED, data, last ? SagaEvents.compensationBegins() : Map.of(), next(run));
  }

  private Future<Void> compensated(Run run, SagaConfig.Step step, SagaState.Call call, StepCalls.Attempt attempt) {
    JsonObject data = SagaEvents.data(step.name(), call.attempt()).put("answer", attempt.answer());
    if (attempt.verdict() == StepCalls.Verdict.SUCCEEDED) {
      return transition(run, SagaEvents.COMPENSATION_SUCCEEDED, data, Map.of(), next(run));
    }
    Future<Boolean> giveUp = attempt.verdict() == StepCalls.Verdict.FAILED ? Future.succeededFuture(true)
        : store.compensationOverdue(run.state.id(), run.saga.compensationDeadline());
    return giveUp.compose(last -> {
      data.put("final", last).put("reason", attempt.reason());
      Change failed = new Change(SagaEvents.COMPENSATION_FAILED, data);
      if (!last) {
        return transition(run, List.of(failed), Map.of(), next(run));
      }
      String why = attempt.verdict() == StepCalls.Verdict.FAILED
          ? "compensation of " + step.name() + " refused (" + attempt.reason() + ")"
          : "compensation of " + step.name() + " still failing after compensationDeadline "
              + run.saga.compensationDeadline().toSeconds() + "s (" + attempt.reason() + ")";
      // One append: a crash between the two would make the next owner call the refused compensation again.
      return transition(run, List.of(failed, new Change(SagaEvents.NEEDS_REVIEW, new JsonObject()
          .put("step", step.name()).put("reason", why).put("answer", attempt.answer()))), Map.of(), next(run));
    });
  }

  /** Full jitter: a wait drawn between 0 and the backoff doubled per earlier failure, capped. */
  private Future<Void> backoff(SagaConfig saga, int failures) {
    long ceiling = Math.min(saga.retry().maxBackoff().toMillis(),
        saga.retry().backoff().toMillis() << Math.min(30, Math.max(0, failures - 1)));
    long wait = ThreadLocalRandom.current().nextLong(ceiling + 1);
    Promise<Void> waited = Promise.promise();
    vertx.setTimer(Math.max(1, wait), t -> waited.complete());
    return waited.future();
  }

  private static ExpectedVersion next(Run run) {
    return ExpectedVersion.exactly(run.state.version());
  }

  private Future<Void> transition(Run run, String type, JsonObject data, Map<String, Object> columns,
      ExpectedVersion expected) {
    return transition(run, List.of(new Change(type, data)), columns, expected);
  }

  /**
   * Appends events of the saga with its row, at the version expected. The state folds the events
   * first, since the row shows the saga as they leave it; a failed append is undone by reading the
   * log back ({@link #transitionFailed}).
   */
  private Future<Void> transition(Run run, List<Change> changes, Map<String, Object> columns,
      ExpectedVersion expected) {
    if (run.lost) {
      return Future.failedFuture(new Lost()); // an answer that came after this node let the saga go
    }
    List<NewEvent> appended = new ArrayList<>();
    for (Change change : changes) {
      run.state.apply(change.type(), change.data(), clock.instant());
      appended.add(new NewEvent(change.type(), change.data(), new JsonObject().put("sagaId", run.state.id())
          .put("node", node).put("fence", run.fence)));
    }
    // A transition that is accepted is its owner's: it extends the lease in the same statement.
    Map<String, Object> row = new HashMap<>(Map.of("lease_until", new SideRow.StoreTime(lease)));
    row.putAll(columns);
    return events.append(new StreamAppend(SagaEvents.streamOf(run.state.id()), expected, appended,
        List.of(SagaEvents.row(run.state, row)))).mapEmpty();
  }

  private void finish(Run run) {
    runs.remove(run.state.id());
    SagaState state = run.state;
    if (state.status() != SagaStatus.RUNNING && state.status() != SagaStatus.COMPENSATING) {
      Instant started = state.startedAt() == null ? clock.instant() : state.startedAt();
      metrics.ended(run.saga.name(), state.status(), Duration.between(started, clock.instant()));
    }
    JsonObject outcome = state.toJson(run.saga);
    run.waiting.forEach(message -> message.reply(outcome));
  }

  /**
   * A transition failed: the store was unreachable, or the stream had moved. The log decides which
   * (read at once after a move, after a pause otherwise). A higher fencing token in it means another
   * node resumed the saga: this node stops. A lower one means this node's {@code SagaResumed} did not
   * land: it announces itself again. Its own token means the stream moved by this node's own earlier
   * append (one that timed out, then committed): it goes on from what was recorded.
   */
  private void transitionFailed(Run run, Throwable failure) {
    if (failure instanceof Lost || run.lost) {
      return;
    }
    long pause = failure instanceof WrongExpectedVersion ? 1 : STORE_RETRY_MS;
    log.warn("Saga {} paused: {}; read back in {}ms", run.state.id(), failure.getMessage(), pause);
    vertx.setTimer(pause, t -> events.readStream(SagaEvents.streamOf(run.state.id()), 1, Instant.MAX)
        .onSuccess(recorded -> readBack(run, fold(run.state.id(), recorded)))
        .onFailure(again -> transitionFailed(run, again)));
  }

  private void readBack(Run run, SagaState recorded) {
    if (run.lost) {
      return;
    }
    if (recorded.fence() > run.fence) {
      lose(run, "it was resumed under fencing token " + recorded.fence());
      return;
    }
    run.state = recorded;
    if (recorded.fence() < run.fence) {
      announceOwnership(run);
    } else {
      advance(run);
    }
  }

  private void lose(Run run, String why) {
    run.lost = true;
    runs.remove(run.state.id(), run);
    log.warn("Saga {} is no longer this node's ({}); its owner goes on", run.state.id(), why);
  }

  /** The saga is no longer this node's: what it was about to do is not done. */
  private static final class Lost extends RuntimeException {
    Lost() {
      super("lost", null, false, false);
    }
  }
}
