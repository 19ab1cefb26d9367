package io.unbroken.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.saga.SagaYaml;
import io.unbroken.testing.Property;
import io.unbroken.testing.Strings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Configuration files as an operator's slip or a broken merge leaves them: the shipped files and
 * the tests' ones with lines deleted, repeated, moved or re-indented, values replaced by other
 * words, numbers, lists, sections, anchors or deep nesting, and unknown keys. Each loads, or is
 * refused with a ConfigException that names where (file and line, or the built-in default) and
 * which key; never another exception.
 */
class ConfigLoaderMutationTest {

  private static final List<String> VALUES = List.of("", "~", "null", "0", "-1", "+5", "65536", "99999999999999",
      "1e3", "0x1F", "1.5", "NaN", "true", "off", "yes", "[]", "{}", "[a, b]", "{a: 1}", "[[1], {b: 2}]", "|", ">-",
      "&anchor x", "*anchor", "!!binary AAAA", "!!int 3", "!!map {}", "${UNSET}", "${UNSET:-5s}", "${X", "'open",
      "\"open", "\"\\q\"", "5x", "1h30m", "-1s", "1TiB", "http://", "redis://", "postgresql://h", "/", "a b",
      "header:", "{id}", "/accounts/{", "5xy", "POST", "[GET, FETCH]", "#", "- item", "? key", ": x", "%TAG", "---",
      "...", "<<: {}", "\t", "\u0000", "\u00e9", "\ufeff");
  private static final String PUNCTUATION = ":-#{}[],&*!|>'\"%@`? \t";
  private static final Pattern KEY_LINE = Pattern.compile("^(\\s*(?:- )?)([^\\s:#][^:#]*):(\\s*)(.*)$");
  private static final Map<String, String> ENVIRONMENT = Map.of("UNBROKEN_ADMIN_TOKEN", "s3cret");

  @TempDir
  Path dir;

  @Test
  void everyMutatedFileLoadsOrIsRefusedNamingWhereAndWhichKey() throws IOException {
    List<String> seeds = List.of(Files.readString(Path.of("conf/unbroken.yaml")), configMapFile(),
        ConfigLoaderTest.DESIGN_EXAMPLE, ConfigLoaderTest.ONE_ROUTE + SagaYaml.orderSaga(8082, "3s", "1s", "1m"));
    Property.Inputs<String> files = random -> {
      List<String> lines = new ArrayList<>(seeds.get(random.nextInt(seeds.size())).lines().toList());
      int mutations = 1 + random.nextInt(3);
      for (int i = 0; i < mutations && !lines.isEmpty(); i++) {
        mutate(lines, random);
      }
      return String.join("\n", lines) + "\n";
    };
    Path file = dir.resolve("unbroken.yaml");
    Pattern refusal = Pattern.compile("(?s)(" + Pattern.quote(file.toString()) + ":(\\d+)|built-in defaults): "
        + "(not valid YAML: .+|the file must be a mapping of sections .+|keys must be plain words|\\S.*?: .+)");
    Property.forAll(files).shrinkingWith(ConfigLoaderMutationTest::fewerLines).shownAs(Strings::escaped)
        .check("ConfigLoader.load(mutated file)", 3_000, yaml -> {
          write(file, yaml);
          try {
            assertThat(new ConfigLoader(ENVIRONMENT::get).load(Optional.of(file), Map.of())).isNotNull();
          } catch (ConfigException refused) {
            Matcher where = refusal.matcher(refused.getMessage());
            assertThat(where.matches()).as("names where and which key: " + refused.getMessage()).isTrue();
            if (where.group(2) != null) {
              assertThat(Integer.parseInt(where.group(2))).as("a line of the file")
                  .isBetween(1, (int) yaml.lines().count() + 1);
            }
          }
        });
  }

  private static void mutate(List<String> lines, SplittableRandom random) {
    int at = random.nextInt(lines.size());
    String line = lines.get(at);
    Matcher keyed = KEY_LINE.matcher(line);
    switch (random.nextInt(9)) {
      case 0 -> lines.remove(at);
      case 1 -> lines.add(at, line);
      case 2 -> lines.add(random.nextInt(lines.size()), lines.remove(at));
      case 3 -> lines.set(at, random.nextBoolean() ? "  " + line : line.replaceFirst("^ {1,2}", ""));
      case 4 -> lines.add(at, indentOf(line) + (random.nextBoolean() ? "unknownKey" : "routes") + ": 1");
      case 5 -> lines.set(at, insert(line, PUNCTUATION.charAt(random.nextInt(PUNCTUATION.length())), random));
      case 6 -> lines.set(at, keyed.matches() ? keyed.group(1) + keyed.group(2) + ": " + nested(random) : line);
      case 7 -> aliasToALaterLine(lines, at, random);
      default -> lines.set(at, keyed.matches() ? keyed.group(1) + keyed.group(2) + ": " + value(random) : line);
    }
  }

  /** Anchors the value of one key and refers to it further down, perhaps from inside itself. */
  private static void aliasToALaterLine(List<String> lines, int at, SplittableRandom random) {
    Matcher anchored = KEY_LINE.matcher(lines.get(at));
    int later = at + 1 + random.nextInt(Math.max(1, Math.min(12, lines.size() - at - 1)));
    if (!anchored.matches() || later >= lines.size()) {
      return;
    }
    lines.set(at, anchored.group(1) + anchored.group(2) + ": &a " + anchored.group(4));
    Matcher referring = KEY_LINE.matcher(lines.get(later));
    if (referring.matches()) {
      lines.set(later, referring.group(1) + referring.group(2) + ": *a");
    }
  }

  private static String value(SplittableRandom random) {
    return random.nextInt(4) == 0 ? Strings.any(12).next(random) : VALUES.get(random.nextInt(VALUES.size()));
  }

  private static String nested(SplittableRandom random) {
    int depth = 1 + random.nextInt(random.nextBoolean() ? 8 : 120);
    boolean lists = random.nextBoolean();
    return (lists ? "[" : "{a: ").repeat(depth) + "1" + (lists ? "]" : "}").repeat(depth);
  }

  private static String insert(String line, char c, SplittableRandom random) {
    int at = random.nextInt(line.length() + 1);
    return line.substring(0, at) + c + line.substring(at);
  }

  private static String indentOf(String line) {
    return line.substring(0, line.length() - line.stripLeading().length());
  }

  private static List<String> fewerLines(String yaml) {
    List<String> lines = yaml.lines().toList();
    List<String> candidates = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      List<String> fewer = new ArrayList<>(lines);
      fewer.remove(i);
      candidates.add(String.join("\n", fewer) + "\n");
    }
    return candidates;
  }

  /** The unbroken.yaml that the Kubernetes ConfigMap mounts: its indented block, indentation removed. */
  private static String configMapFile() throws IOException {
    String manifest = Files.readString(Path.of("k8s/configmap.yaml"));
    String block = manifest.substring(manifest.indexOf("unbroken.yaml: |\n") + "unbroken.yaml: |\n".length());
    return block.lines().map(line -> line.startsWith("    ") ? line.substring(4) : line.strip())
        .reduce("", (file, line) -> file + line + "\n");
  }

  /** Writes {@code yaml} in UTF-8, a lone surrogate half as '?'. */
  private static void write(Path file, String yaml) {
    try {
      Files.write(file, yaml.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
