package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RequestTargetTest {

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
  @CsvSource({
      "/a;b/c, /a;b/c, false",
      "/files/a%2Fb, /files/a%2Fb, true",
      "/a/..b/%2e%2ex, /a/..b/%2e%2ex, false",
      "/a/x;/../b, /a/b, false",
  })
  void aPathWithoutHiddenDotSegmentsPasses(String path, String normalized, boolean encodedSlash) throws Exception {
    assertThat(RequestTarget.of(path, null, path)).isEqualTo(new RequestTarget(normalized, normalized, encodedSlash));
  }
}
