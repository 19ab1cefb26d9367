package io.unbroken.saga;

import io.unbroken.embedded.Ledgers;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/** Ledger faults a test sets: one fault for the next {@code times} actions, or for every compensation. */
public final class SwitchableFaults implements Ledgers.Faults {

  private final AtomicReference<Ledgers.Fault> actions = new AtomicReference<>(Ledgers.Fault.NONE);
  private final AtomicInteger actionsLeft = new AtomicInteger();
  private final AtomicReference<Ledgers.Fault> compensations = new AtomicReference<>(Ledgers.Fault.NONE);
  private final Duration silence;

  public SwitchableFaults(Duration silence) {
    this.silence = silence;
  }

  /** The next {@code times} actions suffer {@code fault}. */
  public void breakActions(Ledgers.Fault fault, int times) {
    actions.set(fault);
    actionsLeft.set(times);
  }

  /** Every compensation from now suffers {@code fault} (NONE: none does). */
  public void breakCompensations(Ledgers.Fault fault) {
    compensations.set(fault);
  }

  @Override
  public Ledgers.Fault next(Ledgers.Operation operation) {
    if (operation == Ledgers.Operation.COMPENSATION) {
      return compensations.get();
    }
    return actionsLeft.getAndUpdate(left -> Math.max(0, left - 1)) > 0 ? actions.get() : Ledgers.Fault.NONE;
  }

  @Override
  public boolean refuses(String ledger, String ref) {
    return false;
  }

  @Override
  public Duration silence() {
    return silence;
  }
}
