package io.unbroken.saga;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.config.SagaConfig;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SagaStateTest {

  private static final SagaConfig SAGA = new SagaConfig("order", "/orders", Duration.ofSeconds(5),
      new SagaConfig.Retry(3, Duration.ofMillis(10), Duration.ofMillis(100)), Duration.ofSeconds(1), Duration.ofHours(1),
      List.of(step("reserve", true), step("pay", true), step("notify", false), step("ship", true)));

  private final SagaState state = new SagaState("1")
      .apply(SagaEvents.STARTED, new JsonObject().put("name", "order").put("input", new JsonObject()), Instant.EPOCH);

  @Test
  void stepsRunInOrderAndACallWithoutARecordedAnswerIsMadeAgainAtOnce() {
    assertThat(state.next(SAGA)).isEqualTo(new SagaState.Call(0, false, 1, false));
    succeed("reserve");
    apply(SagaEvents.STEP_STARTED, SagaEvents.data("pay", 1));

    assertThat(state.next(SAGA)).as("in doubt after a crash").isEqualTo(new SagaState.Call(1, false, 2, false));
    apply(SagaEvents.STEP_STARTED, SagaEvents.data("pay", 2));
    apply(SagaEvents.STEP_FAILED, SagaEvents.data("pay", 2).put("final", false).put("inDoubt", true));
    assertThat(state.next(SAGA)).as("failed for now: wait, then again").isEqualTo(new SagaState.Call(1, false, 3, true));
  }

  @Test
  void aFinalFailureCompensatesEveryStepThatMayHaveActedInReverseOrder() {
    succeed("reserve");
    succeed("pay");
    succeed("notify");
    apply(SagaEvents.STEP_STARTED, SagaEvents.data("ship", 1));
    apply(SagaEvents.STEP_FAILED, SagaEvents.data("ship", 1).put("final", true).put("inDoubt", true));

    assertThat(state.status()).isEqualTo(SagaStatus.COMPENSATING);
    assertThat(state.next(SAGA)).as("ship timed out: it may have acted").isEqualTo(new SagaState.Call(3, true, 1, false));
    compensate("ship");
    assertThat(state.next(SAGA)).as("notify has no compensation").isEqualTo(new SagaState.Call(1, true, 1, false));
    compensate("pay");
    compensate("reserve");
    assertThat(state.next(SAGA)).isEqualTo(new SagaState.Compensated());
  }

  @Test
  void anAttemptThatMayHaveActedKeepsTheStepInDoubtWhateverLaterAttemptsAnswer() {
    succeed("reserve");
    apply(SagaEvents.STEP_STARTED, SagaEvents.data("pay", 1));
    apply(SagaEvents.STEP_FAILED, SagaEvents.data("pay", 1).put("final", false).put("inDoubt", true));
    apply(SagaEvents.STEP_STARTED, SagaEvents.data("pay", 2));
    apply(SagaEvents.STEP_FAILED, SagaEvents.data("pay", 2).put("final", true).put("inDoubt", false));

    assertThat(state.next(SAGA)).as("pay may have acted on its first attempt").isEqualTo(new SagaState.Call(1, true, 1, false));
  }

  @Test
  void aStepRefusedWithA4xxIsNotCompensated() {
    succeed("reserve");
    apply(SagaEvents.STEP_STARTED, SagaEvents.data("pay", 1));
    apply(SagaEvents.STEP_FAILED, SagaEvents.data("pay", 1).put("final", true).put("inDoubt", false));

    assertThat(state.next(SAGA)).isEqualTo(new SagaState.Call(0, true, 1, false));
  }

  @Test
  void reviewWaitsForAPersonAndRetryOrSkipResumeCompensating() {
    succeed("reserve");
    apply(SagaEvents.STEP_FAILED, SagaEvents.data("pay", 1).put("final", true).put("inDoubt", false));
    apply(SagaEvents.COMPENSATION_STARTED, SagaEvents.data("reserve", 1));
    apply(SagaEvents.COMPENSATION_FAILED, SagaEvents.data("reserve", 1).put("final", true).put("reason", "answered 400"));
    apply(SagaEvents.NEEDS_REVIEW, new JsonObject().put("step", "reserve").put("reason", "refused"));
    assertThat(state.next(SAGA)).isEqualTo(new SagaState.Idle());
    assertThat(state.lastAnswer().getString("reason")).isEqualTo("answered 400");

    apply(SagaEvents.RETRIED, new JsonObject().put("step", "reserve").put("by", "ann").put("why", "fixed"));
    assertThat(state.next(SAGA)).isEqualTo(new SagaState.Call(0, true, 2, true));
    assertThat(StepCalls.keyOf("1", "reserve", true, state.generation("reserve")))
        .as("refused under its old key: a new one, or the service replays the refusal").isEqualTo("1:reserve:compensate:1");
    assertThat(StepCalls.keyOf("1", "pay", false, 0)).isEqualTo("1:pay:action");
    apply(SagaEvents.NEEDS_REVIEW, new JsonObject().put("step", "reserve").put("reason", "again"));
    apply(SagaEvents.COMPENSATION_SKIPPED, new JsonObject().put("step", "reserve").put("by", "ann").put("why", "by hand"));
    assertThat(state.next(SAGA)).isEqualTo(new SagaState.Compensated());
  }

  @Test
  void theFencingTokenFollowsTheLatestOwner() {
    apply(SagaEvents.RESUMED, new JsonObject().put("node", "b").put("fence", 3L));

    assertThat(state.fence()).isEqualTo(3);
    assertThat(state.version()).isEqualTo(2);
  }

  private void succeed(String step) {
    apply(SagaEvents.STEP_STARTED, SagaEvents.data(step, 1));
    apply(SagaEvents.STEP_SUCCEEDED, SagaEvents.data(step, 1)
        .put("answer", new StepResponse(200, new JsonObject(), new JsonObject()).toJson()));
  }

  private void compensate(String step) {
    apply(SagaEvents.COMPENSATION_STARTED, SagaEvents.data(step, 1));
    apply(SagaEvents.COMPENSATION_SUCCEEDED, SagaEvents.data(step, 1));
  }

  private void apply(String type, JsonObject data) {
    state.apply(type, data, Instant.EPOCH);
  }

  private static SagaConfig.Step step(String name, boolean undoable) {
    SagaConfig.Call call = new SagaConfig.Call("POST", Template.parse("http://127.0.0.1/" + name, Set.of()), Map.of(),
        Optional.empty());
    return new SagaConfig.Step(name, call, undoable ? Optional.of(call) : Optional.empty());
  }
}
