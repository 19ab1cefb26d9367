package io.unbroken.saga;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.pointer.JsonPointer;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A string of a step's call with placeholders: {@code ${input.<pointer>}}, {@code ${saga.id}} and
 * {@code ${steps.<name>.response.status|headers.<Name>|body<pointer>}}, each optionally with a
 * default ({@code ${input./coupon:-none}}). Pointers are JSON pointers ({@code /a/0/b}) or dotted
 * paths ({@code a.b}). Parsed once at start, so a reference to a step that does not exist (or has
 * not run yet) is a configuration error, not a failure at the thousandth saga.
 */
public final class Template {

  private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([^}]*)}");
  private static final Pattern STEP_REFERENCE =
      Pattern.compile("steps\\.([A-Za-z0-9_-]+)\\.response\\.(status|headers\\.([A-Za-z0-9!#$%&'*+.^_`|~-]+)|body(.*))");

  /** Where a rendered value goes, which decides how it is escaped. */
  public enum Target { URL, HEADER, JSON_BODY }

  /** The steps whose responses a rendering can read, by name. */
  public interface Responses {
    Optional<StepResponse> of(String step);
  }

  private sealed interface Part {}

  private record Literal(String text) implements Part {}

  /** {@code quoted}: the placeholder stands inside a JSON string literal of the template. */
  private record Reference(String source, Optional<String> step, String what, JsonPointer pointer,
      Optional<String> fallback, boolean quoted) implements Part {

    Reference quoted(boolean inString) {
      return new Reference(source, step, what, pointer, fallback, inString);
    }
  }

  private final String text;
  private final List<Part> parts;

  private Template(String text, List<Part> parts) {
    this.text = text;
    this.parts = List.copyOf(parts);
  }

  /**
   * @param readable the steps this template may read: those that have answered before it runs
   * @throws IllegalArgumentException naming the placeholder and why it cannot be
   */
  public static Template parse(String text, Set<String> readable) {
    List<Part> parts = new ArrayList<>();
    Matcher m = PLACEHOLDER.matcher(text);
    int at = 0;
    boolean quoted = false;
    while (m.find()) {
      if (m.start() > at) {
        String literal = text.substring(at, m.start());
        parts.add(new Literal(literal));
        quoted = quotedAfter(literal, quoted);
      }
      parts.add(reference(m.group(1), readable).quoted(quoted));
      at = m.end();
    }
    if (text.indexOf("${", at) >= 0) {
      throw new IllegalArgumentException("'" + text + "' has a ${ without its closing }");
    }
    if (at < text.length()) {
      parts.add(new Literal(text.substring(at)));
    }
    return new Template(text, parts);
  }

  /** Whether a JSON text that was {@code quoted} before {@code literal} is inside a string after it. */
  private static boolean quotedAfter(String literal, boolean quoted) {
    boolean escaped = false;
    for (char c : literal.toCharArray()) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\' && quoted) {
        escaped = true;
      } else if (c == '"') {
        quoted = !quoted;
      }
    }
    return quoted;
  }

  private static Reference reference(String placeholder, Set<String> readable) {
    int dash = placeholder.indexOf(":-");
    Optional<String> fallback = dash < 0 ? Optional.empty() : Optional.of(placeholder.substring(dash + 2));
    String source = (dash < 0 ? placeholder : placeholder.substring(0, dash)).trim();
    if (source.equals("saga.id")) {
      return new Reference(source, Optional.empty(), "id", null, fallback, false);
    }
    if (source.equals("input") || source.startsWith("input.") || source.startsWith("input/")) {
      return new Reference(source, Optional.empty(), "input", pointer(source.substring(5), placeholder), fallback, false);
    }
    Matcher step = STEP_REFERENCE.matcher(source);
    if (!step.matches()) {
      throw new IllegalArgumentException("${" + placeholder + "} is not one of ${input.<pointer>}, ${saga.id}, "
          + "${steps.<name>.response.status}, ${steps.<name>.response.headers.<Name>}, ${steps.<name>.response.body<pointer>}");
    }
    String name = step.group(1);
    if (!readable.contains(name)) {
      throw new IllegalArgumentException("${" + placeholder + "} refers to step '" + name + "', which has not answered "
          + "when this runs (readable here: " + (readable.isEmpty() ? "none" : String.join(", ", readable)) + ")");
    }
    if (step.group(3) != null) {
      return new Reference(source, Optional.of(name), "header",
          JsonPointer.create().append(step.group(3).toLowerCase(Locale.ROOT)), fallback, false);
    }
    if (step.group(4) != null) {
      return new Reference(source, Optional.of(name), "body", pointer(step.group(4), placeholder), fallback, false);
    }
    return new Reference(source, Optional.of(name), "status", null, fallback, false);
  }

  /** {@code ""}, {@code /a/b}, {@code ./a/b} or {@code .a.b} after the source's name. */
  private static JsonPointer pointer(String rest, String placeholder) {
    String path = rest.startsWith("./") ? rest.substring(1) : rest;
    if (path.startsWith(".")) {
      path = "/" + path.substring(1).replace('.', '/');
    }
    try {
      return JsonPointer.from(path);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("${" + placeholder + "}: '" + rest + "' is not a JSON pointer or dotted path");
    }
  }

  /**
   * The template with every placeholder replaced, escaped for where it goes.
   *
   * @throws MissingValue when a value is absent and the placeholder has no default
   */
  public String render(Target target, String sagaId, JsonObject input, Responses responses) {
    if (parts.size() == 1 && parts.get(0) instanceof Literal literal) {
      return literal.text();
    }
    StringBuilder out = new StringBuilder(text.length() + 32);
    for (Part part : parts) {
      if (part instanceof Literal literal) {
        out.append(literal.text());
      } else {
        Reference reference = (Reference) part;
        out.append(escape(target, value(reference, sagaId, input, responses), reference));
      }
    }
    return out.toString();
  }

  private static Object value(Reference reference, String sagaId, JsonObject input, Responses responses) {
    Object value = switch (reference.what()) {
      case "id" -> sagaId;
      case "input" -> reference.pointer().queryJson(input);
      default -> responses.of(reference.step().get()).map(response -> switch (reference.what()) {
        case "status" -> response.status();
        case "header" -> reference.pointer().queryJson(response.headers());
        default -> reference.pointer().queryJson(response.body());
      }).orElse(null);
    };
    if (value != null) {
      return value;
    }
    return reference.fallback().map(Template::literal)
        .orElseThrow(() -> new MissingValue("${" + reference.source() + "} has no value in this saga"));
  }

  /** A default as written: a JSON literal ({@code false}, {@code 0}, {@code null}) where it is one, else text. */
  private static Object literal(String text) {
    try {
      Object value = Json.decodeValue(text);
      return value == null ? text : value;
    } catch (DecodeException e) {
      return text;
    }
  }

  private static String escape(Target target, Object value, Reference reference) {
    String plain = value instanceof String string ? string : Json.encode(value);
    return switch (target) {
      case URL -> {
        if (plain.equals(".") || plain.equals("..")) {
          // A dot segment would take the call to another resource once the service normalizes its path.
          throw new MissingValue("${" + reference.source() + "} is '" + plain + "', which cannot go into a URL");
        }
        yield URLEncoder.encode(plain, StandardCharsets.UTF_8).replace("+", "%20");
      }
      case HEADER -> {
        if (plain.chars().anyMatch(c -> c == '\r' || c == '\n' || c == 0)) {
          throw new MissingValue("${" + reference.source() + "} holds a line break, which cannot go into a header");
        }
        yield plain;
      }
      // Inside the template's quotes any value goes in as string content, so nothing in it can
      // close them; outside, as a JSON value of its own (a string with its quotes).
      case JSON_BODY -> reference.quoted() ? jsonStringContent(plain) : Json.encode(value);
    };
  }

  private static String jsonStringContent(String string) {
    String quoted = Json.encode(string);
    return quoted.substring(1, quoted.length() - 1);
  }

  @Override
  public String toString() {
    return text;
  }

  /** A placeholder whose value this saga does not have: the step's call cannot be made. */
  public static final class MissingValue extends RuntimeException {
    MissingValue(String message) {
      super(message, null, false, false);
    }
  }
}
