package io.unbroken.events;

import io.vertx.core.Future;

/** What became of one append in a batch: its result, or why it alone failed. */
public record AppendOutcome(AppendResult result, RuntimeException failure) {

  public static AppendOutcome appended(AppendResult result) {
    return new AppendOutcome(result, null);
  }

  public static AppendOutcome failed(RuntimeException failure) {
    return new AppendOutcome(null, failure);
  }

  public Future<AppendResult> toFuture() {
    return failure == null ? Future.succeededFuture(result) : Future.failedFuture(failure);
  }
}
