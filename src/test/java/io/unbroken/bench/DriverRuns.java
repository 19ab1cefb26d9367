package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.await;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.List;

/**
 * Closed- and open-loop runs of a set of drivers against one path, for the benchmarks that need
 * nothing from the node besides the answers (the sync benchmark also reads the node's meters).
 */
final class DriverRuns {

  private DriverRuns() {}

  /** One measured run of one side: answers a second in the counted window, the collections and the CPU meanwhile. */
  record Run(String side, double rate, Tally tally, GcPauses gc, ProcessCpu.Totals cpu)
      implements BenchRows.Measured {}

  /** Every connection sends its next request as soon as the last is answered; {@code settle} is not counted. */
  static Run closedLoop(List<Driver> by, String side, String path, Duration settle, Duration length) {
    GcPauses before = GcPauses.now();
    long from = System.nanoTime() + settle.toNanos();
    long until = from + length.toNanos();
    List<Future<Tally>> tallies = by.stream().map(d -> d.closedLoop(path, from, until)).toList();
    ProcessCpu.Totals cpu = ProcessCpu.between(from, until);
    Tally total = collect(tallies, until);
    return new Run(side, total.answeredInWindow / ((until - from) / 1e9), total, GcPauses.now().since(before), cpu);
  }

  /**
   * {@code rate} requests a second, due at fixed intervals, on a freshly collected heap; sending stops
   * once a second's worth of requests is unanswered (the run is then saturated).
   */
  static Run openLoop(List<Driver> drivers, String side, String path, double rate, Duration settle,
      Duration length) {
    GcPauses.startClean();
    GcPauses before = GcPauses.now();
    long start = System.nanoTime() + Duration.ofMillis(20).toNanos();
    long from = start + settle.toNanos();
    long until = from + length.toNanos();
    long maxOutstanding = Math.max(2L * drivers.get(0).connections, (long) Math.ceil(rate / drivers.size()));
    List<Future<Tally>> tallies = drivers.stream()
        .map(d -> d.openLoop(path, rate, start, from, until, maxOutstanding)).toList();
    ProcessCpu.Totals cpu = ProcessCpu.between(from, until);
    Tally total = collect(tallies, until);
    return new Run(side, total.answeredInWindow / ((until - from) / 1e9), total, GcPauses.now().since(before), cpu);
  }

  private static Tally collect(List<Future<Tally>> tallies, long until) {
    Duration bound = Duration.ofNanos(until - System.nanoTime()).plus(Driver.DRAIN_TIMEOUT).plusSeconds(5);
    Tally total = new Tally();
    for (Future<Tally> tally : tallies) {
      total.add(await(tally, bound));
    }
    return total;
  }
}
