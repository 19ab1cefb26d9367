package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What every durable answer store guarantees; times are passed in, so expiry needs no waiting. */
@ExtendWith(VertxExtension.class)
public abstract class DurableAnswersContract {

  private static final Instant T0 = Instant.parse("2026-11-26T10:00:00Z");
  private static final StoredAnswer ANSWER = new StoredAnswer(200, List.of(Map.entry("ETag", "\"7\"")),
      Buffer.buffer(new byte[] {0, 1, 2, (byte) 255}));

  protected DurableAnswers answers;
  private String prefix;

  protected abstract DurableAnswers createAnswers(Vertx vertx);

  @BeforeEach
  void freshStore(Vertx vertx) {
    answers = createAnswers(vertx);
    prefix = UUID.randomUUID().toString().replace("-", "");
  }

  private DurableAnswer answer(String key, Duration ttl) {
    return new DurableAnswer(prefix + key, "fp", ANSWER, "req-" + key, T0, T0.plus(ttl));
  }

  @Test
  void aSavedAnswerIsFoundForItsPayloadAndIsAMismatchForAnother(VertxTestContext testContext) {
    List<Optional<Claim>> found = new ArrayList<>();
    answers.save(answer("a", Duration.ofHours(1)))
        .compose(saved -> answers.find(prefix + "a", "fp", T0.plusSeconds(1))).onSuccess(found::add)
        .compose(first -> answers.find(prefix + "a", "other", T0.plusSeconds(1))).onSuccess(found::add)
        .compose(second -> answers.find(prefix + "absent", "fp", T0)).onSuccess(found::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          StoredAnswer replayed = ((Claim.Completed) found.get(0).orElseThrow()).answer();
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
    answers.save(answer("short", Duration.ofMinutes(1)))
        .compose(saved -> answers.save(answer("long", Duration.ofHours(1))))
        .compose(saved -> answers.find(prefix + "short", "fp", T0.plusSeconds(60))).onSuccess(seen::add)
        .compose(found -> answers.forEachLiveKey(T0.plusSeconds(60), live::addAll))
        .compose(listed -> answers.purgeExpired(T0.plusSeconds(60)))
        .compose(purged -> answers.find(prefix + "long", "fp", T0.plusSeconds(60))).onSuccess(seen::add)
        .onComplete(testContext.succeeding(last -> testContext.verify(() -> {
          assertThat(seen.get(0)).isEqualTo(Optional.empty());
          assertThat(live).contains(prefix + "long").doesNotContain(prefix + "short");
          assertThat(seen.get(1)).isInstanceOf(Optional.class).isNotEqualTo(Optional.empty());
          testContext.completeNow();
        })));
  }

  @Test
  void savingAgainReplacesTheAnswer(VertxTestContext testContext) {
    StoredAnswer second = new StoredAnswer(201, List.of(), Buffer.buffer("second"));
    answers.save(answer("a", Duration.ofHours(1)))
        .compose(saved -> answers.save(new DurableAnswer(prefix + "a", "fp", second, "req-2", T0, T0.plusSeconds(3600))))
        .compose(saved -> answers.find(prefix + "a", "fp", T0))
        .onComplete(testContext.succeeding(found -> testContext.verify(() -> {
          assertThat(((Claim.Completed) found.orElseThrow()).answer().status()).isEqualTo(201);
          testContext.completeNow();
        })));
  }
}
