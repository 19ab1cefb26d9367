package io.unbroken.bench;

import io.vertx.core.AsyncResult;
import org.HdrHistogram.Histogram;

/**
 * What one run saw: the latencies of the requests it counted, and how many answers arrived within
 * the counted window (open loop: requests due in the window may be answered after it).
 */
final class Tally {
  final Histogram latency = BenchRuns.nanosHistogram();
  long answered;
  long answeredInWindow;
  long errors;
  long unfinished;
  /** Seconds into the counted window when the backlog bound was reached, or NaN. */
  double saturatedAt = Double.NaN;
  long backlog;
  long lastAnswer = Long.MIN_VALUE;
  String firstError;

  void count(long latencyNanos, AsyncResult<Integer> status) {
    if (status.succeeded() && status.result() == 200) {
      answered++;
      latency.recordValue(latencyNanos);
    } else {
      errors++;
      if (firstError == null) {
        firstError = status.succeeded() ? "status " + status.result() : String.valueOf(status.cause());
      }
    }
  }

  Tally add(Tally other) {
    latency.add(other.latency);
    answered += other.answered;
    answeredInWindow += other.answeredInWindow;
    errors += other.errors;
    unfinished += other.unfinished;
    if (!Double.isNaN(other.saturatedAt) && !(other.saturatedAt >= saturatedAt)) {
      saturatedAt = other.saturatedAt;
    }
    backlog += other.backlog;
    lastAnswer = Math.max(lastAnswer, other.lastAnswer);
    firstError = firstError != null ? firstError : other.firstError;
    return this;
  }
}
