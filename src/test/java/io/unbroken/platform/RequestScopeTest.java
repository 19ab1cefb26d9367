package io.unbroken.platform;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
class RequestScopeTest {

  private final RequestIdConverter converter = new RequestIdConverter();

  @Test
  void eachRequestContextLogsItsOwnIdOnTheSameEventLoop(Vertx vertx, VertxTestContext testContext) {
    ContextInternal eventLoop = (ContextInternal) vertx.getOrCreateContext();
    Context first = eventLoop.duplicate();
    Context second = eventLoop.duplicate();

    first.runOnContext(v -> {
      RequestScope.bind("1001");
      second.runOnContext(w -> {
        RequestScope.bind("2002");
        String inSecond = converter.convert(null);
        first.runOnContext(x -> testContext.verify(() -> {
          assertThat(converter.convert(null)).isEqualTo("1001");
          assertThat(inSecond).isEqualTo("2002");
          testContext.completeNow();
        }));
      });
    });
  }

  @Test
  void outsideARequestTheIdIsADash() {
    assertThat(converter.convert(null)).isEqualTo("-");
  }
}
