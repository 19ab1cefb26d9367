package io.unbroken.locks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LockTemplateTest {

  private final LockTemplate accounts = new LockTemplate("/accounts/{id}");

  @Test
  void aMatchingPathLocksTheTemplatesResource() {
    assertThat(accounts.resourceOf("/accounts/42")).contains("/accounts/42");
    assertThat(accounts.resourceOf("/accounts/42/debits/7")).contains("/accounts/42");
  }

  @Test
  void emptySegmentsDoNotSlipPastTheLock() {
    assertThat(accounts.resourceOf("/accounts//42")).contains("/accounts/42");
  }

  @Test
  void aPathTheTemplateDoesNotMatchLocksNothing() {
    assertThat(accounts.resourceOf("/accounts")).isEmpty();
    assertThat(accounts.resourceOf("/orders/42")).isEmpty();
  }

  @Test
  void templatesMustBePaths() {
    assertThatThrownBy(() -> new LockTemplate("accounts/{id}")).hasMessageContaining("not a path template");
  }
}
