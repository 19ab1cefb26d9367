package io.unbroken.locks;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Which resource a request locks, from a route's {@code lock:} template such as
 * {@code /accounts/{id}}: literal segments must match the request path's, each {@code {name}}
 * takes one segment, and the resource is the template with those segments filled in. A path the
 * template does not match locks nothing.
 */
public final class LockTemplate {

  private final String text;
  private final List<String> segments;

  public LockTemplate(String text) {
    if (!text.startsWith("/") || text.contains("//")) {
      throw new IllegalArgumentException("'" + text + "' is not a path template like /accounts/{id}");
    }
    this.text = text;
    this.segments = List.of(text.substring(1).split("/"));
  }

  public String text() {
    return text;
  }

  /** The resource {@code path} locks, or empty when the template does not match it. */
  public Optional<String> resourceOf(String path) {
    // Empty segments are dropped, as most upstreams merge slashes: /accounts//1 is /accounts/1 there
    // and must not slip past the lock by failing to match the template.
    String[] parts = Arrays.stream(path.split("/")).filter(part -> !part.isEmpty()).toArray(String[]::new);
    if (parts.length < segments.size()) {
      return Optional.empty();
    }
    StringBuilder resource = new StringBuilder();
    for (int i = 0; i < segments.size(); i++) {
      String segment = segments.get(i);
      boolean variable = segment.startsWith("{") && segment.endsWith("}");
      if (!variable && !segment.equals(parts[i])) {
        return Optional.empty();
      }
      resource.append('/').append(parts[i]);
    }
    return Optional.of(resource.toString());
  }

  @Override
  public String toString() {
    return text;
  }
}
