package io.unbroken.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * CPU time spent on the machine during a run's counted window, by process group: this JVM (in
 * the benchmarks, the node, the load generator and the upstream together), every
 * {@code redis-server} and every {@code postgres} process (the stores the routes call), and the
 * whole machine. Divided by the window's answers it says what a request cost each of them, so a
 * report can tell whether the cores held a route at its maximum, and whose share would have to
 * shrink. Read from Linux's {@code /proc} as {@code loadtest/cpu-by-process.sh} does (processes
 * matched by their exact name); elsewhere nothing is measured. A process that exits within the
 * window loses its share (a pooled PostgreSQL backend does not).
 */
final class ProcessCpu {

  /** CPU used in a window, in nanoseconds; {@link #NONE} where /proc is not there. */
  record Totals(long jvm, long redis, long postgres, long machine) {

    static final Totals NONE = new Totals(-1, -1, -1, -1);

    /** {@code nanos} of CPU over {@code answers} requests, in µs; NaN when nothing was measured. */
    static double perRequestMicros(long nanos, long answers) {
      return nanos < 0 || answers <= 0 ? Double.NaN : nanos / 1e3 / answers;
    }

    private Totals minus(Totals before) {
      return new Totals(jvm - before.jvm, redis - before.redis, postgres - before.postgres,
          machine - before.machine);
    }
  }

  private static final Path PROC = Path.of("/proc");
  // /proc reports CPU in USER_HZ ticks, which Linux fixes at 100 a second for user space.
  private static final long NANOS_PER_TICK = 10_000_000L;
  private static final String REDIS = "redis-server";
  private static final String POSTGRES = "postgres";

  private ProcessCpu() {}

  /**
   * Waits until {@code from}, reads, waits until {@code until} (both {@link System#nanoTime()}
   * instants) and returns what was spent in between; the load runs on event loops meanwhile.
   */
  static Totals between(long from, long until) {
    if (!Files.isReadable(PROC.resolve("stat"))) {
      return Totals.NONE;
    }
    sleepUntil(from);
    Totals before = now();
    sleepUntil(until);
    return now().minus(before);
  }

  private static void sleepUntil(long instant) {
    for (long left = instant - System.nanoTime(); left > 0; left = instant - System.nanoTime()) {
      LockSupport.parkNanos(left);
    }
  }

  private static Totals now() {
    long self = ProcessHandle.current().pid();
    long jvm = 0;
    long redis = 0;
    long postgres = 0;
    try (DirectoryStream<Path> processes = Files.newDirectoryStream(PROC, "[0-9]*")) {
      for (Path process : processes) {
        ProcessStat stat = ProcessStat.read(process.resolve("stat"));
        if (stat == null) {
          continue;
        }
        if (stat.pid() == self) {
          jvm += stat.ticks();
        } else if (stat.name().equals(REDIS)) {
          redis += stat.ticks();
        } else if (stat.name().equals(POSTGRES)) {
          postgres += stat.ticks();
        }
      }
      return new Totals(jvm * NANOS_PER_TICK, redis * NANOS_PER_TICK, postgres * NANOS_PER_TICK, machineNanos());
    } catch (IOException e) {
      return Totals.NONE;
    }
  }

  /**
   * The machine's busy time: every core's elapsed time less its idle, I/O wait and stolen time.
   * Not the sum of /proc/stat's user and system ticks: those are sampled at each tick, and a core
   * whose work comes in bursts shorter than a tick (an event loop woken per request) is mostly
   * idle when its tick fires, while idle time is measured exactly.
   */
  private static long machineNanos() throws IOException {
    long at = System.nanoTime();
    List<String> lines = Files.readAllLines(PROC.resolve("stat"));
    String[] all = lines.get(0).trim().split("\\s+");
    long notBusy = 0;
    for (int field : List.of(4, 5, 8)) {
      notBusy += Long.parseLong(all[field]);
    }
    long cores = lines.stream().filter(line -> line.matches("cpu\\d+ .*")).count();
    return at * cores - notBusy * NANOS_PER_TICK;
  }

  /** One line of /proc/PID/stat: the process's name sits in parentheses and may hold spaces. */
  private record ProcessStat(long pid, String name, long ticks) {

    /** Null when the process is gone. */
    static ProcessStat read(Path file) {
      String line;
      try {
        line = Files.readString(file);
      } catch (IOException gone) {
        return null;
      }
      int open = line.indexOf('(');
      int close = line.lastIndexOf(')');
      // After the name: state is field 3, utime and stime fields 14 and 15 of the line.
      String[] after = line.substring(close + 2).split(" ");
      return new ProcessStat(Long.parseLong(line.substring(0, open).trim()), line.substring(open + 1, close),
          Long.parseLong(after[11]) + Long.parseLong(after[12]));
    }
  }
}
