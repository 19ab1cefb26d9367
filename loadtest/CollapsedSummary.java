import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * async-profiler's collapsed stacks (CPU samples of whole processes, the kernel's frames included,
 * which JFR does not sample) as microseconds of CPU per request, so that two proxies measured under
 * the same load compare frame by frame. A single-file program, run without a build:
 * {@code java loadtest/CollapsedSummary.java INTERVAL_US ROWS NAME=REQUESTS:FILE[,FILE...] ...}.
 * Each NAME is one process measured over REQUESTS answered requests (its files are added up); the
 * first is the one the others are compared with, frame by frame, in the last table.
 */
public final class CollapsedSummary {

  /** One process's samples: by the frame on top of the stack, and by every frame on it (counted once a stack). */
  private record Profile(String name, long requests, Map<String, Long> self, Map<String, Long> anywhere,
      Map<String, Long> layers) {

    double perRequest(Map<String, Long> counts, String key, double intervalMicros) {
      return counts.getOrDefault(key, 0L) * intervalMicros / requests;
    }
  }

  public static void main(String[] args) throws IOException {
    if (args.length < 3) {
      System.err.println("usage: CollapsedSummary INTERVAL_US ROWS NAME=REQUESTS:FILE[,FILE...] [NAME=...]");
      System.exit(2);
    }
    double interval = Double.parseDouble(args[0]);
    int rows = Integer.parseInt(args[1]);
    List<Profile> profiles = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      profiles.add(read(args[i]));
    }
    System.out.printf("CPU per request from samples every %.0f us (us per request; kernel frames end in _[k])%n",
        interval);
    for (Profile profile : profiles) {
      long samples = profile.layers().values().stream().mapToLong(Long::longValue).sum();
      System.out.printf("%n%s: %d requests, %d samples, %.1f us per request%n", profile.name(), profile.requests(),
          samples, samples * interval / profile.requests());
      table("  by layer of the frame on top", profile, profile.layers(), interval, rows);
      table("  frame on top (self)", profile, profile.self(), interval, rows);
      table("  anywhere on the stack, io.unbroken only", profile, onlyOwn(profile.anywhere()), interval, rows);
    }
    if (profiles.size() > 1) {
      compare(profiles, interval, rows);
    }
  }

  private static Profile read(String spec) throws IOException {
    String name = spec.substring(0, spec.indexOf('='));
    String rest = spec.substring(spec.indexOf('=') + 1);
    long requests = Long.parseLong(rest.substring(0, rest.indexOf(':')));
    Map<String, Long> self = new HashMap<>();
    Map<String, Long> anywhere = new HashMap<>();
    Map<String, Long> layers = new HashMap<>();
    for (String file : rest.substring(rest.indexOf(':') + 1).split(",")) {
      for (String line : Files.readAllLines(Path.of(file))) {
        int space = line.lastIndexOf(' ');
        if (space < 0) {
          continue;
        }
        long count = Long.parseLong(line.substring(space + 1));
        String[] frames = line.substring(0, space).split(";");
        String top = frames[frames.length - 1];
        self.merge(top, count, Long::sum);
        layers.merge(layer(top), count, Long::sum);
        Set<String> seen = new HashSet<>();
        for (String frame : frames) {
          String method = withoutLambdaNumbers(frame);
          if (seen.add(method)) {
            anywhere.merge(method, count, Long::sum);
          }
        }
      }
    }
    return new Profile(name, requests, self, anywhere, layers);
  }

  /** Whose code a frame is: the kernel, a native library, or the first two parts of a Java package. */
  private static String layer(String frame) {
    if (frame.endsWith("_[k]")) {
      return "kernel";
    }
    if (!frame.contains("/") || frame.startsWith("/")) {
      return "native (JVM, libc, stubs)";
    }
    String[] parts = frame.split("/");
    return parts.length > 2 ? parts[0] + "." + parts[1] : parts[0];
  }

  /** Lambdas and their generated classes carry numbers that differ from run to run. */
  private static String withoutLambdaNumbers(String frame) {
    return frame.replaceAll("\\$\\$Lambda.*", "\\$\\$Lambda").replaceAll("\\.lambda\\$(\\w+)\\$\\d+", ".lambda\\$$1");
  }

  private static Map<String, Long> onlyOwn(Map<String, Long> counts) {
    Map<String, Long> own = new HashMap<>();
    counts.forEach((frame, count) -> {
      if (frame.startsWith("io/unbroken/")) {
        own.put(frame, count);
      }
    });
    return own;
  }

  private static void table(String title, Profile profile, Map<String, Long> counts, double interval, int rows) {
    System.out.println(title);
    counts.entrySet().stream()
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .limit(rows)
        .forEach(e -> System.out.printf("    %7.2f  %s%n", profile.perRequest(counts, e.getKey(), interval), e.getKey()));
  }

  /** Frames on top whose cost per request differs most between the first profile and each other one. */
  private static void compare(List<Profile> profiles, double interval, int rows) {
    Profile base = profiles.get(0);
    for (Profile other : profiles.subList(1, profiles.size())) {
      System.out.printf("%n%s minus %s, us per request, by layer and by frame on top (largest differences)%n",
          other.name(), base.name());
      differences(base, other, base.layers(), other.layers(), interval, rows);
      differences(base, other, base.self(), other.self(), interval, rows);
    }
  }

  private static void differences(Profile base, Profile other, Map<String, Long> baseCounts,
      Map<String, Long> otherCounts, double interval, int rows) {
    Set<String> keys = new TreeSet<>(baseCounts.keySet());
    keys.addAll(otherCounts.keySet());
    Map<String, Double> delta = new LinkedHashMap<>();
    for (String key : keys) {
      delta.put(key, other.perRequest(otherCounts, key, interval) - base.perRequest(baseCounts, key, interval));
    }
    System.out.printf("  %9s %9s %9s%n", base.name(), other.name(), "diff");
    delta.entrySet().stream()
        .sorted((a, b) -> Double.compare(Math.abs(b.getValue()), Math.abs(a.getValue())))
        .limit(rows)
        .forEach(e -> System.out.printf("  %9.2f %9.2f %+9.2f  %s%n", base.perRequest(baseCounts, e.getKey(), interval),
            other.perRequest(otherCounts, e.getKey(), interval), e.getValue(), e.getKey()));
  }
}
