package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.format;
import static io.unbroken.bench.BenchRuns.percentileMillis;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Machine-readable rows, one per measured run, tab-separated, appended to the file the system
 * property {@code bench.rows} names (without it nothing is written), so that
 * {@code loadtest/report.sh} reads figures rather than the programs' text. The phases:
 * {@code floor} (one connection, closed loop), {@code max} (closed loop), {@code open@ROUTE}
 * (open-loop rounds at a share of ROUTE's closed-loop maximum) and {@code sweep} (see
 * {@link LoadSweep}). Each row ends with the CPU a request cost this JVM (node, generator and
 * upstream), Redis, PostgreSQL and the whole machine in the run's counted window, in µs
 * ({@link ProcessCpu}; {@code -} where not measured). Only the programs' {@code main} threads write.
 */
final class BenchRows {

  /** What a row needs of a run: its latencies and errors, and the answers a second it counted. */
  interface Measured {
    Tally tally();

    double rate();

    /** The CPU spent by process group during the counted window. */
    ProcessCpu.Totals cpu();

    /** {@code nanos} of {@link #cpu()} per answer of the counted window, in µs. */
    default double perRequestMicros(long nanos) {
      return ProcessCpu.Totals.perRequestMicros(nanos, tally().answeredInWindow);
    }

    /** What a request cost each process group, for the programs' printed runs. */
    default String cpuText() {
      ProcessCpu.Totals cpu = cpu();
      return format("CPU a request (µs): this JVM %.1f, redis-server %.1f, postgres %.1f, machine %.1f",
          perRequestMicros(cpu.jvm()), perRequestMicros(cpu.redis()), perRequestMicros(cpu.postgres()),
          perRequestMicros(cpu.machine()));
    }

    default double p(double percentile) {
      return percentileMillis(tally().latency, percentile);
    }

    default boolean saturated() {
      return !Double.isNaN(tally().saturatedAt);
    }
  }

  static final String HEADER =
      "phase\tside\tround\toffered_per_s\tanswered_per_s\tp50_ms\tp90_ms\tp99_ms\terrors\tsaturated"
          + "\tjvm_us\tredis_us\tpostgres_us\tmachine_us\n";

  private final Path file;

  private BenchRows(Path file) {
    this.file = file;
  }

  static BenchRows fromProperties() {
    String name = System.getProperty("bench.rows", "");
    return new BenchRows(name.isBlank() ? null : Path.of(name));
  }

  /** One row; {@code offered} is NaN for a closed-loop run, which offers what it is answered. */
  void write(String phase, String side, int round, double offered, Measured run) {
    if (file == null) {
      return;
    }
    ProcessCpu.Totals cpu = run.cpu();
    String row = format("%s\t%s\t%d\t%s\t%.1f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\t%s\t%s\t%s%n", phase, side, round,
        Double.isNaN(offered) ? "-" : format("%.0f", offered), run.rate(), run.p(50), run.p(90), run.p(99),
        run.tally().errors, run.saturated() ? 1 : 0, micros(run, cpu.jvm()), micros(run, cpu.redis()),
        micros(run, cpu.postgres()), micros(run, cpu.machine()));
    try {
      boolean fresh = !Files.exists(file) || Files.size(file) == 0;
      Files.writeString(file, fresh ? HEADER + row : row, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("could not write " + file, e);
    }
  }

  private static String micros(Measured run, long nanos) {
    double micros = run.perRequestMicros(nanos);
    return Double.isNaN(micros) ? "-" : format("%.1f", micros);
  }
}
