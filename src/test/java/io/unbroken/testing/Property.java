package io.unbroken.testing;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A check run on many inputs drawn by a seeded random source, so a failure names the seed and the
 * input, and the same seed draws the same inputs again. The seed is fixed, so CI sees the same
 * inputs on every run; {@code -Dproperty.seed=N} draws others. Each property mixes its name into
 * the seed, so adding one property does not change what another draws. A failing input is made
 * smaller while it still fails (when the property says how), so the report shows what matters.
 *
 * @param <T> the input
 */
public final class Property<T> {

  private static final Logger log = LoggerFactory.getLogger(Property.class);
  private static final long SEED = Long.getLong("property.seed", 20_260_517L);
  private static final int MAX_SHRINK_STEPS = 2_000;

  /** Draws one input. */
  @FunctionalInterface
  public interface Inputs<T> {
    T next(SplittableRandom random);
  }

  private final Inputs<T> inputs;
  private Function<T, List<T>> smaller = input -> List.of();
  private Function<T, String> show = String::valueOf;

  private Property(Inputs<T> inputs) {
    this.inputs = inputs;
  }

  public static <T> Property<T> forAll(Inputs<T> inputs) {
    return new Property<>(inputs);
  }

  /** One of {@code choices}. */
  public static <T> Inputs<T> oneOf(List<T> choices) {
    return random -> choices.get(random.nextInt(choices.size()));
  }

  /** An input of one of {@code sources}, each as likely. */
  @SafeVarargs
  public static <T> Inputs<T> mixOf(Inputs<? extends T>... sources) {
    return random -> sources[random.nextInt(sources.length)].next(random);
  }

  /** Candidates smaller than a failing input, tried in order (e.g. {@link Strings#shorter}). */
  public Property<T> shrinkingWith(Function<T, List<T>> candidates) {
    this.smaller = candidates;
    return this;
  }

  /** How a failing input is written in the report. */
  public Property<T> shownAs(Function<T, String> show) {
    this.show = show;
    return this;
  }

  /** Runs {@code check} on {@code tries} inputs, and logs how many were tried; a check fails by throwing. */
  public void check(String name, int tries, Consumer<T> check) {
    SplittableRandom random = new SplittableRandom(SEED ^ name.hashCode() * 0x9E3779B97F4A7C15L);
    for (int i = 0; i < tries; i++) {
      T input = inputs.next(random);
      Throwable first = failure(check, input);
      if (first != null) {
        T smallest = shrink(check, input);
        Throwable again = failure(check, smallest);
        Throwable failure = again == null ? first : again;
        throw new AssertionError("property '" + name + "' fails on try " + (i + 1) + " of " + tries + " (seed " + SEED
            + ", -Dproperty.seed to change it) for " + show.apply(smallest) + (again == null ? " (once: it passed when"
            + " run again)" : "") + ": " + failure, failure);
      }
    }
    log.info("property '{}': {} inputs tried, seed {}", name, tries, SEED);
  }

  private T shrink(Consumer<T> check, T failing) {
    T smallest = failing;
    int steps = 0;
    boolean shrunk = true;
    while (shrunk && steps < MAX_SHRINK_STEPS) {
      shrunk = false;
      for (T candidate : smaller.apply(smallest)) {
        if (++steps > MAX_SHRINK_STEPS) {
          break;
        }
        if (failure(check, candidate) != null) {
          smallest = candidate;
          shrunk = true;
          break;
        }
      }
    }
    return smallest;
  }

  private static <T> Throwable failure(Consumer<T> check, T input) {
    try {
      check.accept(input);
      return null;
    } catch (Throwable failure) {
      return failure;
    }
  }
}
