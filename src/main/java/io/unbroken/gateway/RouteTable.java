package io.unbroken.gateway;

import io.unbroken.config.RouteConfig;
import java.util.Comparator;
import java.util.List;

/** Finds the route of a path: the longest prefix that matches on a path-segment boundary. */
final class RouteTable {

  private final RouteConfig[] longestFirst;

  RouteTable(List<RouteConfig> routes) {
    this.longestFirst = routes.stream()
        .sorted(Comparator.comparingInt((RouteConfig r) -> r.prefix().length()).reversed())
        .toArray(RouteConfig[]::new);
  }

  /** The route for {@code path}, or null: {@code /api} matches {@code /api} and {@code /api/x}, not {@code /apix}. */
  RouteConfig match(String path) {
    for (RouteConfig route : longestFirst) {
      String prefix = route.prefix();
      if (path.startsWith(prefix)
          && (prefix.length() == 1 || path.length() == prefix.length() || path.charAt(prefix.length()) == '/')) {
        return route;
      }
    }
    return null;
  }
}
