import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * A flight recording as text a reviewer can read in a diff: where the CPU samples land (the method
 * on top of the stack, and every method on the stack, each counted once per sample) and which
 * classes the allocation samples weigh most. A single-file program, run without a build:
 * {@code java loadtest/JfrSummary.java recording.jfr [rows] [from to]}. With {@code from} and
 * {@code to} (UTC times of day, HH:MM:SS) only the events between them count: one phase of a
 * benchmark that runs several, such as a route's closed-loop run.
 */
public final class JfrSummary {

  private final Map<String, Long> selfSamples = new HashMap<>();
  private final Map<String, Long> stackSamples = new HashMap<>();
  private final Map<String, Long> layerSamples = new HashMap<>();
  private final Map<String, Long> allocatedBytes = new HashMap<>();
  private final Map<String, Long> allocatingSites = new HashMap<>();
  private long samples;
  private long allocated;

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: JfrSummary <recording.jfr> [rows] [from to]");
      System.exit(2);
    }
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    LocalTime from = args.length > 3 ? LocalTime.parse(args[2]) : LocalTime.MIN;
    LocalTime to = args.length > 3 ? LocalTime.parse(args[3]) : LocalTime.MAX;
    JfrSummary summary = new JfrSummary();
    for (RecordedEvent event : RecordingFile.readAllEvents(Path.of(args[0]))) {
      if (within(event.getStartTime(), from, to)) {
        summary.add(event);
      }
    }
    summary.print(rows);
  }

  private static boolean within(Instant instant, LocalTime from, LocalTime to) {
    LocalTime time = LocalTime.ofInstant(instant, ZoneOffset.UTC);
    return !time.isBefore(from) && !time.isAfter(to);
  }

  private void add(RecordedEvent event) {
    RecordedStackTrace stack = event.getStackTrace();
    if (stack == null || stack.getFrames().isEmpty()) {
      return;
    }
    List<RecordedFrame> frames = stack.getFrames();
    switch (event.getEventType().getName()) {
      case "jdk.ExecutionSample" -> {
        samples++;
        selfSamples.merge(name(frames.get(0)), 1L, Long::sum);
        layerSamples.merge(layer(frames.get(0)), 1L, Long::sum);
        Set<String> seen = new HashSet<>();
        for (RecordedFrame frame : frames) {
          if (seen.add(name(frame))) {
            stackSamples.merge(name(frame), 1L, Long::sum);
          }
        }
      }
      case "jdk.ObjectAllocationSample" -> {
        long weight = event.getLong("weight");
        allocated += weight;
        allocatedBytes.merge(event.getClass("objectClass").getName(), weight, Long::sum);
        allocatingSites.merge(firstOwnFrame(frames), weight, Long::sum);
      }
      default -> { }
    }
  }

  /** The allocation's nearest caller in Unbroken's code, else its top frame: the site to change. */
  private static String firstOwnFrame(List<RecordedFrame> frames) {
    return frames.stream().filter(f -> f.getMethod().getType().getName().startsWith("io.unbroken."))
        .findFirst().map(JfrSummary::name).orElse(name(frames.get(0)));
  }

  /** Whose code a frame is: the first two parts of its package (io.netty, io.vertx, io.unbroken, java.util...). */
  private static String layer(RecordedFrame frame) {
    String[] parts = frame.getMethod().getType().getName().split("\\.");
    return parts.length > 2 ? parts[0] + "." + parts[1] : parts[0];
  }

  private static String name(RecordedFrame frame) {
    RecordedMethod method = frame.getMethod();
    return method.getType().getName() + "." + method.getName();
  }

  private void print(int rows) {
    System.out.printf("CPU samples: %d%n", samples);
    table("on top of the stack, by package", layerSamples, samples, rows, n -> n + "");
    table("on top of the stack (self)", selfSamples, samples, rows, n -> n + "");
    table("anywhere on the stack (total)", stackSamples, samples, rows, n -> n + "");
    System.out.printf("%nallocation samples: %.1f MB in all%n", allocated / 1e6);
    table("allocated, by class", allocatedBytes, allocated, rows, JfrSummary::megabytes);
    table("allocated, by nearest io.unbroken caller (else top frame)", allocatingSites, allocated, rows,
        JfrSummary::megabytes);
  }

  private static String megabytes(long bytes) {
    return String.format("%.1f MB", bytes / 1e6);
  }

  private static void table(String title, Map<String, Long> counts, long total, int rows,
      Function<Long, String> format) {
    System.out.printf("%n%s%n", title);
    counts.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .limit(rows)
        .forEach(e -> System.out.printf("  %5.1f%%  %10s  %s%n",
            100.0 * e.getValue() / Math.max(1, total), format.apply(e.getValue()), e.getKey()));
  }
}
