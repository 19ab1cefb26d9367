package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
}
