package io.unbroken.bench;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;

/**
 * Collections of this JVM and the time they took, from its collector beans. The benchmarks run
 * the Parallel collector, whose collections stop every thread, so this is the time a run's
 * requests could not move: what its tail may owe to the collector rather than to the route.
 */
record GcPauses(long count, long millis) {

  static GcPauses now() {
    long count = 0;
    long millis = 0;
    for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, collector.getCollectionCount());
      millis += Math.max(0, collector.getCollectionTime());
    }
    return new GcPauses(count, millis);
  }

  /**
   * A full collection before a measured run: what a saturated run before it promoted is collected
   * here, not in one long pause in the middle of the next run.
   */
  static void startClean() {
    System.gc();
  }

  GcPauses since(GcPauses before) {
    return new GcPauses(count - before.count, millis - before.millis);
  }

  String text() {
    return count + "/" + millis;
  }
}
