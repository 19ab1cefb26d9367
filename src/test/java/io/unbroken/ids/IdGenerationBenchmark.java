package io.unbroken.ids;

import java.time.InstantSource;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Single-threaded throughput of id generation on the real clock. Run by {@code loadtest/ids-bench.sh}.
 *
 * <p>{@code snowflakeNextId} measures what one call costs. Its generator may run ahead of the clock
 * as far as it likes, because a caller this fast asks for more than the 4096 ids a millisecond that
 * the 12-bit sequence holds. {@code snowflakeNextIdWithDefaultBound} is the same loop with the
 * default 5 s bound: once it has borrowed 5 s it issues exactly what the clock frees, 4,096,000 ids a
 * second, and refuses the rest. That is the ceiling of one worker id, whatever the CPU.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
public class IdGenerationBenchmark {

  private static final int DATACENTER = 1;
  private static final int WORKER = 1;
  private static final long DEFAULT_MAX_BACKWARD_MILLIS = 5_000;

  private SnowflakeIds unbounded;
  private SnowflakeIds defaultBound;
  private HybridLogicalClock hlc;

  /** Ids issued and refused per second by {@code snowflakeNextIdWithDefaultBound}. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Outcomes {
    public long issued;
    public long refused;

    @Setup(Level.Iteration)
    public void reset() {
      issued = 0;
      refused = 0;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    InstantSource clock = InstantSource.system();
    long aDay = TimeUnit.DAYS.toMillis(1);
    unbounded = new SnowflakeIds(clock, DATACENTER, aDay);
    unbounded.holdWorker(WORKER, clock.millis() + aDay);
    defaultBound = new SnowflakeIds(clock, DATACENTER, DEFAULT_MAX_BACKWARD_MILLIS);
    defaultBound.holdWorker(WORKER, clock.millis() + aDay);
    hlc = new HybridLogicalClock(clock, 500);
  }

  @Benchmark
  public long snowflakeNextId() {
    return unbounded.nextId();
  }

  @Benchmark
  public long snowflakeNextIdWithDefaultBound(Outcomes outcomes) {
    long id = defaultBound.nextId();
    if (id == SnowflakeIds.UNAVAILABLE) {
      outcomes.refused++;
    } else {
      outcomes.issued++;
    }
    return id;
  }

  @Benchmark
  public long hybridLogicalClockNow() {
    return hlc.now();
  }
}
