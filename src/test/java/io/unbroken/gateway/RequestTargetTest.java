package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.unbroken.config.RouteConfig;
import io.unbroken.testing.Property;
import io.unbroken.testing.Strings;
import io.unbroken.testing.TestNodes;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RequestTargetTest {

  private static final RouteTable ROUTES = new RouteTable(List.of(
      route("/api/public"), route("/api/public/files"), route("/files"), route("/")));
  /** Where each piece of a path ends for some upstream: a slash, or %2F for one that decodes before it splits. */
  private static final Pattern ANY_SLASH = Pattern.compile("/|%2[fF]");
  private static final List<String> SEGMENTS = List.of("api", "public", "files", "internal", "a", "", ".", "..",
      "...", "..a", ".well-known", "%2e", "%2E", "%2e%2e", ".%2e", "%2E.", "..;", "..;x=1", ".;", ";", "%2f", "%2F",
      "..%2f", "%2e%2e%2F", "a%2fb", "%252e%252e", "%", "%2", "%%2e", "a b", "\u00e9", "%00", "..\\", "a;b");

  @ParameterizedTest
  @CsvSource({
      "/api/public/../internal, /api/internal",
      "/api/./a/./b, /api/a/b",
      "/a/b/.., /a/",
      "/.., /",
      "/../../etc/passwd, /etc/passwd",
      "/a/../, /",
      "/a//b, /a//b",
      "/.well-known/x, /.well-known/x",
      "/a/..b/c, /a/..b/c",
  })
  void dotSegmentsAreRemovedAsRfc3986Says(String path, String normalized) {
    assertThat(RequestTarget.removeDotSegments(path)).isEqualTo(normalized);
  }

  @ParameterizedTest
  @ValueSource(strings = {"/api/public/%2e%2e/internal", "/api/public/.%2E/x", "/api/public/..;/internal",
      "/api/public/.;x=1/a", "/files/..%2fsecret", "/files/a%2F%2e%2e%2Fb", "/files/x/..;%2f.."})
  void aDotSegmentThatOnlyTheUpstreamWouldResolveIsRefused(String path) {
    assertThatThrownBy(() -> RequestTarget.of(path, null, path)).isInstanceOf(RequestTarget.Refused.class)
        .hasMessageContaining("only the upstream would resolve");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/api/a b", "/api/a\tb", "/api/a\u0000b", "/api/a?x=\u007f", "/api/a?x=1 HTTP/1.1"})
  void aTargetWithASpaceOrAControlCharacterIsRefused(String target) {
    int query = target.indexOf('?');
    String path = query < 0 ? target : target.substring(0, query);
    assertThatThrownBy(() -> RequestTarget.of(path, query < 0 ? null : target.substring(query + 1), target))
        .isInstanceOf(RequestTarget.Refused.class).hasMessageContaining("space or a control character");
  }

  @ParameterizedTest
  @CsvSource({
      "/a;b/c, /a;b/c, false",
      "/files/a%2Fb, /files/a%2Fb, true",
      "/a/..b/%2e%2ex, /a/..b/%2e%2ex, false",
      "/a/x;/../b, /a/b, false",
  })
  void aPathWithoutHiddenDotSegmentsPasses(String path, String normalized, boolean encodedSlash) throws Exception {
    assertThat(RequestTarget.of(path, null, path)).isEqualTo(new RequestTarget(normalized, normalized, encodedSlash));
  }

  /**
   * Any path: refused with a reason, or normalized so that no reading of it holds a dot segment
   * (percent-decoded, split at %2F, path parameters dropped), routed under a prefix it stays under
   * whatever the upstream decodes, and normalized again to itself.
   */
  @Test
  void everyPathIsRefusedOrNormalizedSoNoReadingOfItClimbsOutOfItsRoute() {
    Property.Inputs<String> near = random -> {
      StringBuilder path = new StringBuilder();
      int segments = random.nextInt(7);
      for (int i = 0; i < segments; i++) {
        path.append(random.nextInt(8) == 0 ? "//" : "/").append(SEGMENTS.get(random.nextInt(SEGMENTS.size())));
      }
      return path.length() == 0 ? "/" : path.toString();
    };
    Property.Inputs<String> paths = Property.mixOf(near,
        Strings.edited(near, "/.%2eEfF;\\ a", 4),
        Strings.joined(random -> "/", Strings.over("/.%2eEfF;a", 0, 24)),
        Strings.joined(Property.oneOf(List.of("/", "")), Strings.any(32)));
    Property.Inputs<Target> targets = random -> Target.of(paths.next(random),
        random.nextBoolean() ? null : Strings.over("/.?&=a%", 0, 12).next(random), random.nextInt(4) == 0);

    Property.forAll(targets).shrinkingWith(Target::shorter).shownAs(Target::toString)
        .check("RequestTarget.of(any path)", 30_000, RequestTargetTest::refusedOrNormalized);
  }

  private static void refusedOrNormalized(Target target) {
    RequestTarget normalized;
    try {
      normalized = RequestTarget.of(target.path(), target.query(), target.uri());
    } catch (RequestTarget.Refused refused) {
      assertThat(refused.getMessage()).isNotBlank();
      return;
    }
    String path = normalized.path();
    assertThat(path).startsWith("/");
    assertThat(normalized.uri()).isEqualTo(target.query() == null ? path : path + "?" + target.query());
    for (String piece : ANY_SLASH.split(path, -1)) {
      assertThat(upstreamReading(piece)).as("a piece of " + path).isNotIn(".", "..");
    }
    if (path.toLowerCase(Locale.ROOT).contains("%2f")) {
      assertThat(normalized.encodedSlash()).as("%2F is reported, for the route to refuse").isTrue();
    }
    RouteConfig route = ROUTES.match(path);
    String upstreamView = upstreamView(path);
    assertThat(under(upstreamView, route.prefix()))
        .as("routed under " + route.prefix() + ", read by an upstream as " + upstreamView).isTrue();
    assertThat(refusedOrNormalizedTo(path, target.query())).as("normalizing again").isEqualTo(path);
  }

  private static String refusedOrNormalizedTo(String path, String query) {
    try {
      return RequestTarget.of(path, query, query == null ? path : path + "?" + query).path();
    } catch (RequestTarget.Refused refused) {
      return "refused: " + refused.getMessage();
    }
  }

  /** A piece of a path as an upstream may read it: %2E decoded, a path parameter (Tomcat's ;jsessionid) dropped. */
  private static String upstreamReading(String piece) {
    String decoded = piece.replace("%2e", ".").replace("%2E", ".");
    int parameter = decoded.indexOf(';');
    return parameter < 0 ? decoded : decoded.substring(0, parameter);
  }

  /** The path as the most lenient upstream resolves it: every piece read so, empty ones dropped, dots resolved. */
  private static String upstreamView(String path) {
    StringBuilder view = new StringBuilder();
    for (String piece : ANY_SLASH.split(path, -1)) {
      String read = upstreamReading(piece);
      if (!read.isEmpty()) {
        view.append('/').append(read);
      }
    }
    return RequestTarget.removeDotSegments(view.length() == 0 ? "/" : view.toString());
  }

  private static boolean under(String path, String prefix) {
    return prefix.equals("/") || path.equals(prefix) || path.startsWith(prefix + "/");
  }

  private static RouteConfig route(String prefix) {
    return TestNodes.route(prefix, "http://127.0.0.1:1", Duration.ofSeconds(1), 1024);
  }

  /** A request target as the listener hands it over: path and query parsed from an origin- or absolute-form uri. */
  private record Target(String path, String query, String uri) {

    static Target of(String text, String query, boolean absoluteForm) {
      int questionMark = text.indexOf('?');
      String path = questionMark < 0 ? text : text.substring(0, questionMark);
      String target = query == null ? path : path + "?" + query;
      return new Target(path, query, absoluteForm ? "http://gw" + target : target);
    }

    List<Target> shorter() {
      return Strings.shorter(path).stream().map(shorter -> of(shorter, query, uri.startsWith("http"))).toList();
    }

    @Override
    public String toString() {
      return "path " + Strings.escaped(path) + ", query " + (query == null ? "none" : Strings.escaped(query))
          + ", uri " + Strings.escaped(uri);
    }
  }
}
