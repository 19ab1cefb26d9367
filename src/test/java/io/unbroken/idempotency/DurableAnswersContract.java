package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What every durable answer store guarantees. Answers are kept for a duration the store counts on
 * its own clock, so expiry is tested by letting a short time to live pass and polling for it.
 */
@ExtendWith(VertxExtension.class)
public abstract class DurableAnswersContract {

  private static final Duration SHORT = Duration.ofMillis(600);
  private static final Duration LONG = Duration.ofHours(1);
  private static final Duration SLACK = Duration.ofSeconds(10);
  private static final StoredAnswer ANSWER = new StoredAnswer(200, List.of(Map.entry("ETag", "\"7\"")),
      Buffer.buffer(new byte[] {0, 1, 2, (byte) 255}));

  protected DurableAnswers answers;
  private Vertx vertx;
  private String prefix;

  protected abstract DurableAnswers createAnswers(Vertx vertx);

  @BeforeEach
  void freshStore(Vertx vertx) {
    this.vertx = vertx;
    answers = createAnswers(vertx);
    prefix = UUID.randomUUID().toString().replace("-", "");
  }

  private DurableAnswer answer(String key, Duration ttl) {
    return new DurableAnswer(prefix + key, "fp", ANSWER, "req-" + key, ttl);
  }

  /** Looks the key up every 20 ms until it is gone; fails after {@code within}. */
  private Future<Void> untilGone(String scopeKey, Duration within) {
    Promise<Void> gone = Promise.promise();
    lookAgain(scopeKey, System.nanoTime() + within.toNanos(), gone);
    return gone.future();
  }

  private void lookAgain(String scopeKey, long deadline, Promise<Void> gone) {
    answers.find(scopeKey, "fp").onFailure(gone::fail).onSuccess(found -> {
      if (found.isEmpty()) {
        gone.complete();
      } else if (System.nanoTime() - deadline > 0) {
        gone.fail(scopeKey + " still found at the deadline");
      } else {
        vertx.setTimer(20, t -> lookAgain(scopeKey, deadline, gone));
      }
    });
  }

  @Test
  void aSavedAnswerIsFoundForItsPayloadAndIsAMismatchForAnother(VertxTestContext testContext) {
    List<Optional<Claim>> found = new ArrayList<>();
    answers.save(answer("a", LONG))
        .compose(saved -> answers.find(prefix + "a", "fp")).onSuccess(found::add)
        .compose(first -> answers.find(prefix + "a", "other")).onSuccess(found::add)
        .compose(second -> answers.find(prefix + "absent", "fp")).onSuccess(found::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          Claim.Completed completed = (Claim.Completed) found.get(0).orElseThrow();
          assertThat(completed.ttlLeft()).as("kept for its time to live, by the store's clock")
              .isLessThanOrEqualTo(LONG).isGreaterThan(LONG.minus(SLACK));
          StoredAnswer replayed = completed.answer();
          assertThat(replayed.status()).isEqualTo(200);
          assertThat(replayed.headers()).isEqualTo(ANSWER.headers());
          assertThat(replayed.body()).as("binary body intact").isEqualTo(ANSWER.body());
          assertThat(found.get(1)).contains(Claim.MISMATCH);
          assertThat(found.get(2)).isEmpty();
          testContext.completeNow();
        })));
  }

  @Test
  void expiredAnswersAreNotFoundNotListedAndArePurged(VertxTestContext testContext) {
    List<String> live = new ArrayList<>();
    List<Object> seen = new ArrayList<>();
    long savedAt = System.nanoTime();
    answers.save(answer("short", SHORT))
        .compose(saved -> answers.save(answer("long", LONG)))
        .compose(saved -> answers.find(prefix + "short", "fp")).onSuccess(seen::add)
        .compose(found -> untilGone(prefix + "short", SHORT.plus(SLACK)))
        .onSuccess(gone -> seen.add(Duration.ofNanos(System.nanoTime() - savedAt)))
        .compose(gone -> answers.forEachLiveKey(live::addAll))
        .compose(listed -> answers.purgeExpired()).onSuccess(seen::add)
        .compose(purged -> answers.find(prefix + "long", "fp")).onSuccess(seen::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(seen.get(0)).as("found while it lives").isNotEqualTo(Optional.empty());
          assertThat((Duration) seen.get(1)).as("gone only after its time to live").isGreaterThanOrEqualTo(SHORT);
          assertThat(live).contains(prefix + "long").doesNotContain(prefix + "short");
          assertThat((Integer) seen.get(2)).as("purged").isPositive();
          assertThat(seen.get(3)).isInstanceOf(Optional.class).isNotEqualTo(Optional.empty());
          testContext.completeNow();
        })));
  }

  @Test
  void savingAgainReplacesTheAnswer(VertxTestContext testContext) {
    StoredAnswer second = new StoredAnswer(201, List.of(), Buffer.buffer("second"));
    answers.save(answer("a", LONG))
        .compose(saved -> answers.save(new DurableAnswer(prefix + "a", "fp", second, "req-2", LONG)))
        .compose(saved -> answers.find(prefix + "a", "fp"))
        .onComplete(testContext.succeeding(found -> testContext.verify(() -> {
          assertThat(((Claim.Completed) found.orElseThrow()).answer().status()).isEqualTo(201);
          testContext.completeNow();
        })));
  }

  @Test
  void answersSavedTogetherAreAllFoundAndOfOneKeyTheLastStands(VertxTestContext testContext) {
    StoredAnswer later = new StoredAnswer(201, List.of(), Buffer.buffer("later"));
    List<Optional<Claim>> found = new ArrayList<>();
    answers.saveAll(List.of(answer("a", LONG), answer("b", LONG), new DurableAnswer(prefix + "a", "fp", later, "req-2", LONG)))
        .compose(saved -> answers.find(prefix + "a", "fp")).onSuccess(found::add)
        .compose(first -> answers.find(prefix + "b", "fp")).onSuccess(found::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(((Claim.Completed) found.get(0).orElseThrow()).answer().status()).isEqualTo(201);
          StoredAnswer other = ((Claim.Completed) found.get(1).orElseThrow()).answer();
          assertThat(other.headers()).isEqualTo(ANSWER.headers());
          assertThat(other.body()).isEqualTo(ANSWER.body());
          testContext.completeNow();
        })));
  }
}
