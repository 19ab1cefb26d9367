package io.unbroken.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Reads a YAML file into {@link ConfigNode}s, keeping each value's line. Scalars are kept as the
 * text written (so {@code off} stays the word "off", not YAML 1.1's boolean). {@code ${NAME}} and
 * {@code ${NAME:-default}} are replaced from the environment; a value that is only an unset
 * variable counts as absent.
 */
final class YamlSource {

  private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?}");

  private final String fileName;
  private final Function<String, String> environment;

  YamlSource(String fileName, Function<String, String> environment) {
    this.fileName = fileName;
    this.environment = environment;
  }

  ConfigNode.Mapping read(Path file) {
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      Node document = new Yaml(new LoaderOptions()).compose(reader);
      if (document == null) {
        return ConfigNode.Mapping.empty(fileName + ":1");
      }
      if (!(document instanceof MappingNode)) {
        throw new ConfigException(origin(document) + ": the file must be a mapping of sections (server:, routes:, ...)");
      }
      return (ConfigNode.Mapping) convert(document, "", origin(document));
    } catch (MarkedYAMLException e) {
      int line = e.getProblemMark() == null ? 1 : e.getProblemMark().getLine() + 1;
      throw new ConfigException(
          fileName + ":" + line + ": not valid YAML: " + e.getProblem() + hint(file, line));
    } catch (YAMLException e) {
      throw new ConfigException(fileName + ": not valid YAML: " + e.getMessage());
    } catch (NoSuchFileException e) {
      throw new ConfigException(fileName + ": no such file");
    } catch (AccessDeniedException e) {
      throw new ConfigException(fileName + ": cannot be read: permission denied");
    } catch (IOException e) {
      throw new ConfigException(fileName + ": cannot be read: " + e.getMessage());
    }
  }

  /**
   * A ${NAME} written bare inside { } or [ ] is the likeliest slip (the braces end a bare value
   * there, and the parser's own words do not say so), so such a line gets a hint.
   */
  private static String hint(Path file, int line) {
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return line <= lines.size() && lines.get(line - 1).contains("${")
          ? " (inside { } or [ ], write a ${NAME} value in quotes: \"${NAME}\")"
          : "";
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * @param origin where the value is said to be: for a section or list under a key, the key's line
   *     (a block value starts on the line below its key, which is not where a reader looks)
   */
  private ConfigNode convert(Node node, String path, String origin) {
    if (node instanceof ScalarNode scalar) {
      return new ConfigNode.Scalar(interpolate(scalar.getValue()), origin(node));
    }
    if (node instanceof SequenceNode sequence) {
      List<ConfigNode> items = new ArrayList<>();
      for (Node item : sequence.getValue()) {
        items.add(convert(item, path + "[" + items.size() + "]", origin(item)));
      }
      return new ConfigNode.Sequence(items, origin);
    }
    MappingNode mapping = (MappingNode) node;
    Map<String, ConfigNode> entries = new LinkedHashMap<>();
    for (NodeTuple tuple : mapping.getValue()) {
      if (!(tuple.getKeyNode() instanceof ScalarNode keyNode)) {
        throw new ConfigException(origin(tuple.getKeyNode()) + ": keys must be plain words");
      }
      String key = keyNode.getValue();
      String keyPath = path.isEmpty() ? key : path + "." + key;
      if (entries.containsKey(key)) {
        throw new ConfigException(origin(keyNode), keyPath, "appears twice in the same section");
      }
      entries.put(key, convert(tuple.getValueNode(), keyPath, origin(keyNode)));
    }
    return new ConfigNode.Mapping(entries, origin);
  }

  private String interpolate(String text) {
    Matcher m = VARIABLE.matcher(text);
    if (!m.find()) {
      return text;
    }
    StringBuilder out = new StringBuilder();
    do {
      String value = environment.apply(m.group(1));
      if (value == null) {
        value = m.group(2) == null ? "" : m.group(2);
      }
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    } while (m.find());
    m.appendTail(out);
    return out.toString();
  }

  private String origin(Node node) {
    return fileName + ":" + (node.getStartMark().getLine() + 1);
  }
}
