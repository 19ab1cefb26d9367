package io.unbroken.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.composer.Composer;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.parser.Parser;
import org.yaml.snakeyaml.parser.ParserImpl;
import org.yaml.snakeyaml.reader.ReaderException;
import org.yaml.snakeyaml.reader.StreamReader;
import org.yaml.snakeyaml.resolver.Resolver;

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
  // The sections and lists being converted: an alias to one of them would hold itself.
  private final Set<Node> enclosing = Collections.newSetFromMap(new IdentityHashMap<>());

  YamlSource(String fileName, Function<String, String> environment) {
    this.fileName = fileName;
    this.environment = environment;
  }

  ConfigNode.Mapping read(Path file) {
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      Node document = compose(reader, file);
      if (document == null) {
        return ConfigNode.Mapping.empty(fileName + ":1");
      }
      if (!(document instanceof MappingNode)) {
        throw new ConfigException(origin(document) + ": the file must be a mapping of sections (server:, routes:, ...)");
      }
      return (ConfigNode.Mapping) convert(document, "", origin(document));
    } catch (NoSuchFileException e) {
      throw new ConfigException(fileName + ": no such file");
    } catch (AccessDeniedException e) {
      throw new ConfigException(fileName + ": cannot be read: permission denied");
    } catch (IOException e) {
      throw new ConfigException(fileName + ": cannot be read: " + e.getMessage());
    }
  }

  /** The file's one document, or null when it has none. */
  private Node compose(Reader reader, Path file) {
    LoaderOptions options = new LoaderOptions();
    Parser parser = new ParserImpl(new StreamReader(reader), options);
    try {
      return new Composer(parser, new Resolver(), options).getSingleNode();
    } catch (MarkedYAMLException e) {
      int line = e.getProblemMark() == null ? 1 : e.getProblemMark().getLine() + 1;
      throw new ConfigException(
          fileName + ":" + line + ": not valid YAML: " + e.getProblem() + hint(file, line));
    } catch (ReaderException e) {
      // Refused while reading, before the parser has a mark to give; the position still has a line.
      throw new ConfigException(String.format("%s:%d: not valid YAML: the character U+%04X is not allowed",
          fileName, lineAt(file, e.getPosition()), e.getCodePoint()));
    } catch (YAMLException e) {
      // A limit (nesting depth, aliases) is refused without a mark: the line is where the parser stopped.
      throw new ConfigException(fileName + ":" + lineWhereStopped(parser) + ": not valid YAML: " + e.getMessage());
    }
  }

  private static int lineWhereStopped(Parser parser) {
    try {
      Event next = parser.peekEvent();
      return next == null ? 1 : next.getStartMark().getLine() + 1;
    } catch (YAMLException e) {
      return 1;
    }
  }

  /** The line of the file on which its {@code position}th code point stands. */
  private static int lineAt(Path file, int position) {
    try {
      return 1 + (int) Files.readString(file, StandardCharsets.UTF_8).codePoints().limit(position)
          .filter(c -> c == '\n').count();
    } catch (IOException e) {
      return 1;
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
    if (!enclosing.add(node)) {
      throw new ConfigException(origin, path, "an alias (*name) here stands for a section or list around it,"
          + " which would hold itself without end");
    }
    ConfigNode converted = node instanceof SequenceNode sequence
        ? sequence(sequence, path, origin)
        : mapping((MappingNode) node, path, origin);
    enclosing.remove(node);
    return converted;
  }

  private ConfigNode.Sequence sequence(SequenceNode sequence, String path, String origin) {
    List<ConfigNode> items = new ArrayList<>();
    for (Node item : sequence.getValue()) {
      items.add(convert(item, path + "[" + items.size() + "]", origin(item)));
    }
    return new ConfigNode.Sequence(items, origin);
  }

  private ConfigNode.Mapping mapping(MappingNode mapping, String path, String origin) {
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
