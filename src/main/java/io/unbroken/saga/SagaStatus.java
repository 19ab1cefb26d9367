package io.unbroken.saga;

import java.util.Locale;
import java.util.Optional;

/** Where a saga stands; the two active ones are owned and run by a node. */
public enum SagaStatus {
  RUNNING, COMPENSATING, COMPLETED, COMPENSATED, REVIEW, RESOLVED;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean active() {
    return this == RUNNING || this == COMPENSATING;
  }

  public static Optional<SagaStatus> parse(String label) {
    for (SagaStatus status : values()) {
      if (status.label().equals(label)) {
        return Optional.of(status);
      }
    }
    return Optional.empty();
  }
}
