package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.format;

import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;

/**
 * Latency against offered load: every side open loop at each share of one side's closed-loop
 * maximum (the slower side's, in the benchmarks of a durable path) that the system property {@code bench.sweep} lists (percent, comma separated, e.g.
 * {@code 20,40,60,80,100}; unset: no sweep), lightest first, the sides' order alternating from one
 * load to the next. A load past a side's own maximum is reported saturated (its latency is
 * queueing), which is what the far end of a chart should show. Each run is printed and written as a
 * {@code sweep} row.
 */
final class LoadSweep {

  private LoadSweep() {}

  static List<Integer> percentsFromProperties() {
    String list = System.getProperty("bench.sweep", "").trim();
    if (list.isEmpty()) {
      return List.of();
    }
    List<Integer> percents = Arrays.stream(list.split(",")).map(String::trim).map(Integer::valueOf).sorted().toList();
    if (percents.get(0) < 1 || percents.get(percents.size() - 1) > 1000) {
      throw new IllegalArgumentException("bench.sweep holds percentages in 1..1000, got '" + list + "'");
    }
    return percents;
  }

  /** Runs the sweep at shares of {@code reference}'s maximum; {@code openLoop} measures one side at one rate (requests/s). */
  static void run(List<Integer> percents, String reference, double referenceMax, List<String> sides,
      BiFunction<String, Double, ? extends BenchRows.Measured> openLoop, BenchRows rows) {
    if (percents.isEmpty()) {
      return;
    }
    System.out.println(format("%nsweep: open loop at %s%% of the closed-loop maximum of %s (%.0f requests/s)",
        percents, reference, referenceMax));
    printHeader();
    for (int step = 0; step < percents.size(); step++) {
      double rate = Math.max(1, Math.floor(referenceMax * percents.get(step) / 100.0));
      for (int i = 0; i < sides.size(); i++) {
        String side = sides.get((step + i) % sides.size());
        BenchRows.Measured run = openLoop.apply(side, rate);
        print(side, "open", rate, run);
        rows.write("sweep", side, step + 1, rate, run);
      }
    }
  }

  static void printHeader() {
    System.out.println(format("  %-9s %-6s %10s %10s %9s %9s %9s %7s %s", "side", "loop", "offered/s", "answers/s",
        "p50 ms", "p90 ms", "p99 ms", "errors", "note"));
  }

  static void print(String side, String loop, double offered, BenchRows.Measured run) {
    String note = run.saturated() ? "SATURATED (latency is queueing)"
        : run.tally().firstError != null ? "first error: " + run.tally().firstError : "";
    System.out.println(format("  %-9s %-6s %10s %10.0f %9.3f %9.3f %9.3f %7d %s", side, loop,
        Double.isNaN(offered) ? "-" : format("%.0f", offered), run.rate(), run.p(50), run.p(90), run.p(99),
        run.tally().errors, note));
  }
}
