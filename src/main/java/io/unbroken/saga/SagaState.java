package io.unbroken.saga;

import io.unbroken.config.SagaConfig;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A saga as its events leave it, folded one event at a time; {@link #next} says what its owner
 * does now. Nothing here talks to a store or a service, so every rule of the saga's progress is
 * decided in one place from the log alone, the same way on every node.
 */
public final class SagaState {

  /** How far a step's action or compensation has come. */
  public enum Progress { NOT_STARTED, CALLING, FAILED_FOR_NOW, SUCCEEDED, FAILED, SKIPPED }

  /** One step's action and compensation: attempts, progress, and the answers they got. */
  public static final class Step {
    private int actionAttempts;
    private Progress action = Progress.NOT_STARTED;
    private boolean actionInDoubt;
    private StepResponse response;
    private int compensationAttempts;
    private int compensationGeneration;
    private Progress compensation = Progress.NOT_STARTED;
    private JsonObject lastAnswer = new JsonObject();

    public JsonObject toJson(String name) {
      return new JsonObject().put("name", name)
          .put("action", new JsonObject().put("progress", label(action)).put("attempts", actionAttempts)
              .put("inDoubt", actionInDoubt).put("response", response == null ? null : response.toJson()))
          .put("compensation", new JsonObject().put("progress", label(compensation))
              .put("attempts", compensationAttempts))
          .put("lastAnswer", lastAnswer);
    }


  }

  /** How a constant reads in JSON and metric tags: {@code FAILED_FOR_NOW} is {@code failed-for-now}. */
  static String label(Enum<?> constant) {
    return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** What the owner does next. */
  public sealed interface Move {}

  /** Call a step's action or compensation; {@code afterFailure}: wait a backoff first. */
  public record Call(int step, boolean compensation, int attempt, boolean afterFailure) implements Move {}

  /** Every step succeeded. */
  public record Complete() implements Move {}

  /** Every step that needed undoing is undone. */
  public record Compensated() implements Move {}

  /** Nothing to do: the saga has ended, or waits for a person. */
  public record Idle() implements Move {}

  private final String id;
  private final Map<String, Step> steps = new LinkedHashMap<>();
  private String name = "";
  private JsonObject input = new JsonObject();
  private String followToken;
  private SagaStatus status = SagaStatus.RUNNING;
  private int version;
  private long fence;
  private String currentStep = "";
  private String failedStep = "";
  private String reason = "";
  private JsonObject lastAnswer = new JsonObject();
  private Instant startedAt;

  public SagaState(String id) {
    this.id = id;
  }

  /** Folds one event: its type, its data, and when the store recorded it. */
  public SagaState apply(String type, JsonObject data, Instant recordedAt) {
    version++;
    if (startedAt == null) {
      startedAt = recordedAt;
    }
    String stepName = data.getString("step", "");
    Step step = stepName.isEmpty() ? null : steps.computeIfAbsent(stepName, n -> new Step());
    switch (type) {
      case SagaEvents.STARTED -> {
        name = data.getString("name");
        input = data.getJsonObject("input", new JsonObject());
        followToken = data.getString("followToken");
        fence = data.getLong("fence", 1L);
      }
      case SagaEvents.RESUMED -> fence = data.getLong("fence");
      case SagaEvents.STEP_STARTED -> {
        currentStep = stepName;
        step.actionAttempts = data.getInteger("attempt");
        step.action = Progress.CALLING;
      }
      case SagaEvents.STEP_SUCCEEDED -> {
        step.action = Progress.SUCCEEDED;
        step.response = StepResponse.fromJson(data.getJsonObject("answer"));
      }
      case SagaEvents.STEP_FAILED -> {
        boolean last = data.getBoolean("final");
        step.action = last ? Progress.FAILED : Progress.FAILED_FOR_NOW;
        // An attempt that may have acted leaves the step in doubt whatever later attempts answer.
        step.actionInDoubt |= data.getBoolean("inDoubt", false);
        failure(step, data);
        if (last) {
          status = SagaStatus.COMPENSATING;
          failedStep = stepName;
        }
      }
      case SagaEvents.COMPENSATION_STARTED -> {
        currentStep = stepName;
        step.compensationAttempts = data.getInteger("attempt");
        step.compensation = Progress.CALLING;
      }
      case SagaEvents.COMPENSATION_SUCCEEDED -> step.compensation = Progress.SUCCEEDED;
      case SagaEvents.COMPENSATION_FAILED -> {
        step.compensation = data.getBoolean("final") ? Progress.FAILED : Progress.FAILED_FOR_NOW;
        failure(step, data);
      }
      case SagaEvents.COMPENSATION_SKIPPED -> {
        step.compensation = Progress.SKIPPED;
        status = SagaStatus.COMPENSATING;
      }
      case SagaEvents.COMPLETED -> status = SagaStatus.COMPLETED;
      case SagaEvents.COMPENSATED -> status = SagaStatus.COMPENSATED;
      case SagaEvents.NEEDS_REVIEW -> {
        status = SagaStatus.REVIEW;
        reason = data.getString("reason", "");
      }
      case SagaEvents.RETRIED -> {
        status = SagaStatus.COMPENSATING;
        if (step != null && step.compensation == Progress.FAILED) {
          // Refused, not failing for now: the same key would only replay the refusal.
          step.compensation = Progress.FAILED_FOR_NOW;
          step.compensationGeneration++;
        }
      }
      case SagaEvents.RESOLVED -> status = SagaStatus.RESOLVED;
      default -> { } // an event of a later version: it changes nothing this version knows of
    }
    return this;
  }

  private void failure(Step step, JsonObject data) {
    reason = data.getString("reason", "");
    lastAnswer = new JsonObject().put("step", data.getString("step")).put("attempt", data.getInteger("attempt"))
        .put("reason", reason).put("answer", data.getJsonObject("answer"));
    step.lastAnswer = lastAnswer;
  }

  /** What the owner does now, by the saga's definition. */
  public Move next(SagaConfig saga) {
    List<SagaConfig.Step> defined = saga.steps();
    if (status == SagaStatus.RUNNING) {
      for (int i = 0; i < defined.size(); i++) {
        Step step = steps.get(defined.get(i).name());
        if (step == null || step.action != Progress.SUCCEEDED) {
          int attempts = step == null ? 0 : step.actionAttempts;
          return new Call(i, false, attempts + 1, step != null && step.action == Progress.FAILED_FOR_NOW);
        }
      }
      return new Complete();
    }
    if (status == SagaStatus.COMPENSATING) {
      for (int i = defined.size() - 1; i >= 0; i--) {
        Step step = steps.get(defined.get(i).name());
        if (step != null && defined.get(i).compensate().isPresent() && mayHaveActed(step)
            && step.compensation != Progress.SUCCEEDED && step.compensation != Progress.SKIPPED) {
          return new Call(i, true, step.compensationAttempts + 1, step.compensation == Progress.FAILED_FOR_NOW);
        }
      }
      return new Compensated();
    }
    return new Idle();
  }

  /**
   * A step that succeeded, or failed after an attempt whose outcome is unknown (a timeout, a reset,
   * a 5xx), may have changed its service: it is compensated. One refused with a 4xx is not.
   */
  private static boolean mayHaveActed(Step step) {
    return step.action == Progress.SUCCEEDED || step.action == Progress.FAILED && step.actionInDoubt;
  }

  /** The answers of the steps that succeeded, for templates. */
  public Template.Responses responses() {
    return name -> Optional.ofNullable(steps.get(name)).map(step -> step.response);
  }

  public JsonObject toJson(SagaConfig saga) {
    JsonArray shown = new JsonArray();
    for (SagaConfig.Step defined : saga == null ? List.<SagaConfig.Step>of() : saga.steps()) {
      shown.add(steps.getOrDefault(defined.name(), new Step()).toJson(defined.name()));
    }
    return new JsonObject().put("id", id).put("name", name).put("status", status.label()).put("input", input)
        .put("currentStep", currentStep).put("failedStep", failedStep).put("reason", reason)
        .put("lastAnswer", lastAnswer).put("fence", fence).put("version", version)
        .put("startedAt", startedAt == null ? null : startedAt.toString()).put("followToken", followToken)
        .put("steps", shown);
  }

  public String id() {
    return id;
  }

  public String name() {
    return name;
  }

  public JsonObject input() {
    return input;
  }

  public SagaStatus status() {
    return status;
  }

  public int version() {
    return version;
  }

  public long fence() {
    return fence;
  }

  public String currentStep() {
    return currentStep;
  }

  public String failedStep() {
    return failedStep;
  }

  public String reason() {
    return reason;
  }

  public JsonObject lastAnswer() {
    return lastAnswer;
  }

  public Instant startedAt() {
    return startedAt;
  }

  /** How often an operator had a refused compensation of this step sent again (0: never). */
  int generation(String step) {
    return Optional.ofNullable(steps.get(step)).map(s -> s.compensationGeneration).orElse(0);
  }
}
