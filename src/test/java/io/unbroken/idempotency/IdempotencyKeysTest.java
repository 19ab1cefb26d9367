package io.unbroken.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import io.unbroken.testing.Property;
import io.unbroken.testing.Strings;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Which Idempotency-Key values a request may carry: 1 to 255 visible ASCII characters, nothing else. */
class IdempotencyKeysTest {

  private static final String VISIBLE = visibleAscii();

  @ParameterizedTest
  @ValueSource(strings = {"a", "8e03978e-40d5-43e8-bc93-6894a57f9324", "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
      "order:17:action", "~!@#$%^&*()_+{}|:<>?`-=[]\\;',./"})
  void visibleAsciiIsAKey(String key) {
    assertThat(IdempotencyKeys.problemWith(key)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "a b", "\"a b\"", "tab\there", "caf\u00e9", "nul\u0000", "del\u007f", "\u00a0"})
  void anythingElseIsRefused(String key) {
    assertThat(IdempotencyKeys.problemWith(key)).isPresent();
  }

  @Test
  void aKeyIsAcceptedExactlyWhenItIsOneTo255VisibleAsciiCharacters() {
    Property.Inputs<String> visible = Strings.over(VISIBLE, 0, 300);
    Property.Inputs<String> keys = Property.mixOf(visible,
        Strings.joined(random -> "\"", Strings.over(VISIBLE, 0, 260), random -> "\""),
        Strings.edited(Strings.over(VISIBLE, 250, 256), VISIBLE + " \t\u0000\u007f\u0080\u00ff\u2028", 2),
        Strings.edited(visible, " \t\r\n\u0000\u001f\u007f\u00e9\ud83d", 1),
        Strings.any(64));
    Property.forAll(keys).shrinkingWith(Strings::shorter).shownAs(Strings::escaped)
        .check("IdempotencyKeys.problemWith(any text)", 20_000, key -> {
          boolean valid = key.length() >= 1 && key.length() <= IdempotencyKeys.MAX_KEY_LENGTH
              && key.chars().allMatch(c -> VISIBLE.indexOf(c) >= 0);
          Optional<String> problem = IdempotencyKeys.problemWith(key);
          assertThat(problem.isEmpty()).as("accepted").isEqualTo(valid);
          problem.ifPresent(why -> assertThat(why).startsWith("the Idempotency-Key"));
        });
  }

  private static String visibleAscii() {
    StringBuilder chars = new StringBuilder();
    for (char c = '!'; c <= '~'; c++) {
      chars.append(c);
    }
    return chars.toString();
  }
}
