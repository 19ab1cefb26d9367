package io.unbroken.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.HdrHistogram.Histogram;

/**
 * What the event benchmarks share: their run shape from system properties, the database they are
 * pointed at, and how figures are reduced (medians over rounds, percentiles in milliseconds).
 * Only their {@code main} threads call {@link #await}; nothing here runs on an event loop.
 */
final class BenchRuns {

  private BenchRuns() {}

  /**
   * The database URL: the first argument, else the system property {@code bench.pg.url}. It must
   * name a database of its own ({@code postgresql://user@host:port/name}): the benchmarks migrate it
   * and write to it.
   */
  static String databaseUrl(String[] args, String program) {
    String url = args.length > 0 ? args[0] : System.getProperty("bench.pg.url");
    if (url == null || !url.matches("^postgres(ql)?://[^/]+/[A-Za-z0-9_]+(\\?.*)?$")) {
      throw new IllegalArgumentException("usage: " + program + " postgresql://user@host:port/database"
          + " (or -Dbench.pg.url=...); got " + url);
    }
    return url;
  }

  /** A system property that is true or false, failing with its name when it is neither (a typo would flip it). */
  static boolean booleanProperty(String name, boolean defaultValue) {
    String value = System.getProperty(name);
    if (value == null) {
      return defaultValue;
    }
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new IllegalArgumentException(name + " must be true or false, got '" + value + "'");
    };
  }

  /** A whole-number system property between min and max, failing with its name when it is not. */
  static int intProperty(String name, int defaultValue, int min, int max) {
    String value = System.getProperty(name);
    if (value == null) {
      return defaultValue;
    }
    try {
      int parsed = Integer.parseInt(value.trim());
      if (parsed >= min && parsed <= max) {
        return parsed;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        name + " must be a whole number in " + min + ".." + max + ", got '" + value + "'");
  }

  /**
   * How a latency benchmark loads its node, from system properties: JIT warm-up, the part of each
   * run not counted, run length, rounds, client connections, client event loops, and the share of
   * a maximum at which the open-loop runs go.
   */
  record Load(Duration warmup, Duration settle, Duration duration, int rounds, int connections, int clientThreads,
      int ratePercent) {

    static Load fromProperties() {
      Load load = new Load(seconds("bench.warmup", 25, 0, 600), seconds("bench.settle", 1, 0, 60),
          seconds("bench.duration", 10, 1, 600), intProperty("bench.rounds", 3, 1, 100),
          intProperty("bench.connections", 50, 1, 10_000), intProperty("bench.clientThreads", 2, 1, 64),
          intProperty("bench.ratePercent", 50, 1, 100));
      if (load.clientThreads > load.connections) {
        throw new IllegalArgumentException("bench.clientThreads (" + load.clientThreads
            + ") must not exceed bench.connections (" + load.connections + ")");
      }
      return load;
    }

    double rateShare() {
      return ratePercent / 100.0;
    }

    String describe(String method, String baseline) {
      return format("  load: %s, %d connections on %d client event loop(s); %d s per run after %d s settling;"
          + " %d round(s); open loop at %d%% of the closed-loop maximum of %s", method, connections, clientThreads,
          duration.toSeconds(), settle.toSeconds(), rounds, ratePercent, baseline);
    }
  }

  /** A Vert.x of {@code eventLoops} event loops on the native transport, for a load generator or an upstream. */
  static Vertx eventLoops(int eventLoops) {
    return Vertx.builder().with(new VertxOptions().setEventLoopPoolSize(eventLoops).setPreferNativeTransport(true))
        .build();
  }

  static Duration seconds(String name, int defaultValue, int min, int max) {
    return Duration.ofSeconds(intProperty(name, defaultValue, min, max));
  }

  /** Blocks the calling (main) thread until {@code future} completes, at most {@code timeout}. */
  static <T> T await(Future<T> future, Duration timeout) {
    try {
      return future.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException("no answer within " + timeout.toSeconds() + " s", e);
    }
  }

  static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  /** A histogram of nanoseconds with three significant digits, growing as needed. */
  static Histogram nanosHistogram() {
    return new Histogram(3);
  }

  static double percentileMillis(Histogram nanos, double percentile) {
    return nanos.getTotalCount() == 0 ? Double.NaN : nanos.getValueAtPercentile(percentile) / 1e6;
  }

  static String format(String pattern, Object... values) {
    return String.format(Locale.ROOT, pattern, values);
  }

  /** The URL without its password, to be printed. */
  static String redact(String url) {
    return url.replaceFirst("^(postgres(ql)?://[^:@/]+):[^@/]*@", "$1:***@");
  }
}
