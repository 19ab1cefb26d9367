package io.unbroken.embedded;

import io.unbroken.embedded.Ledgers.Fault;
import io.unbroken.embedded.Ledgers.Operation;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Faults drawn at random from a seed, for the chaos benchmark: each call is broken with the
 * probability of its operation, by one of the four transient faults chosen evenly; an action is
 * refused for good for a share of refs, decided by a hash of the seed, ledger and ref, so every
 * retry of a refused action is refused again. The same seed draws the same sequence of faults (which
 * call gets which still depends on the order in which calls arrive).
 */
public final class ChaosFaults implements Ledgers.Faults {

  private static final List<Fault> TRANSIENT = List.of(Fault.UNAVAILABLE_BEFORE, Fault.UNAVAILABLE_AFTER,
      Fault.RESET_AFTER, Fault.SILENT_AFTER);

  private final long seed;
  private final double transientActions;
  private final double transientCompensations;
  private final double finalActions;
  private final Duration silence;
  private final SplittableRandom random;
  private final Map<Operation, Map<Fault, Long>> injected = new EnumMap<>(Operation.class);

  /**
   * @param transientActions share of action calls broken by a transient fault, 0 to 1
   * @param transientCompensations share of reversal calls broken by a transient fault, 0 to 1
   * @param finalActions share of refs whose action each ledger refuses for good, 0 to 1
   * @param silence how long a silent call holds its answer: longer than the callers' timeout
   */
  public ChaosFaults(long seed, double transientActions, double transientCompensations, double finalActions,
      Duration silence) {
    this.seed = seed;
    this.transientActions = share("transientActions", transientActions);
    this.transientCompensations = share("transientCompensations", transientCompensations);
    this.finalActions = share("finalActions", finalActions);
    if (silence.isNegative() || silence.isZero()) {
      throw new IllegalArgumentException("silence must be more than 0, got " + silence);
    }
    this.silence = silence;
    this.random = new SplittableRandom(seed);
    for (Operation operation : Operation.values()) {
      injected.put(operation, new EnumMap<>(Fault.class));
    }
  }

  private static double share(String name, double value) {
    if (!(value >= 0 && value <= 1)) {
      throw new IllegalArgumentException(name + " must be a share between 0 and 1, got " + value);
    }
    return value;
  }

  @Override
  public synchronized Fault next(Operation operation) {
    double probability = operation == Operation.ACTION ? transientActions : transientCompensations;
    if (random.nextDouble() >= probability) {
      return Fault.NONE;
    }
    Fault fault = TRANSIENT.get(random.nextInt(TRANSIENT.size()));
    injected.get(operation).merge(fault, 1L, Long::sum);
    return fault;
  }

  @Override
  public boolean refuses(String ledger, String ref) {
    // SplittableRandom mixes its seed, so neighbouring hashes still give independent draws.
    return new SplittableRandom(seed ^ (31L * ledger.hashCode() + ref.hashCode())).nextDouble() < finalActions;
  }

  @Override
  public Duration silence() {
    return silence;
  }

  /** How many calls of each operation each transient fault broke so far. */
  public synchronized Map<Operation, Map<Fault, Long>> injected() {
    Map<Operation, Map<Fault, Long>> copy = new EnumMap<>(Operation.class);
    injected.forEach((operation, faults) -> copy.put(operation, Map.copyOf(faults)));
    return copy;
  }
}
