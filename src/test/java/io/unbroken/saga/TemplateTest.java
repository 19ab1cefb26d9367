package io.unbroken.saga;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TemplateTest {

  private static final JsonObject INPUT = new JsonObject().put("order", "A-1").put("amount", 12)
      .put("customer", new JsonObject().put("name", "Ann \"the\" Buyer").put("tags", new JsonArray().add("vip")));
  private static final StepResponse RESERVED = new StepResponse(201,
      new JsonObject().put("location", "/reservations/9"), new JsonObject().put("id", 9).put("until", "soon"));
  private static final Template.Responses ANSWERS = step -> step.equals("reserve") ? Optional.of(RESERVED) : Optional.empty();

  @Test
  void rendersInputSagaIdAndEarlierAnswersByPointerOrDottedPath() {
    Template template = Template.parse("${saga.id}|${input./order}|${input.customer.tags/0}|${steps.reserve.response.status}"
        + "|${steps.reserve.response.headers.Location}|${steps.reserve.response.body/id}", Set.of("reserve"));

    assertThat(template.render(Template.Target.HEADER, "77", INPUT, ANSWERS))
        .isEqualTo("77|A-1|vip|201|/reservations/9|9");
  }

  @Test
  void aStringInAJsonBodyCannotCloseItsQuotesAndStructuresGoInAsJson() {
    Template body = Template.parse("{\"who\": \"${input./customer/name}\", \"n\": ${input./amount}, \"c\": ${input./customer}}",
        Set.of());

    JsonObject rendered = new JsonObject(body.render(Template.Target.JSON_BODY, "1", INPUT, ANSWERS));

    assertThat(rendered.getString("who")).isEqualTo("Ann \"the\" Buyer");
    assertThat(rendered.getInteger("n")).isEqualTo(12);
    assertThat(rendered.getJsonObject("c").getString("name")).isEqualTo("Ann \"the\" Buyer");
  }

  @Test
  void nothingAnInputHoldsCanChangeTheShapeOfABody() {
    JsonObject hostile = new JsonObject().put("ref", new JsonArray().add("\",").add(":"))
        .put("flag", "true}, \"admin\": true, \"x\": {").put("n", 5);
    Template body = Template.parse("{\"ref\": \"${input./ref}\", \"flag\": ${input./flag}, \"fail\": ${input./none:-false},"
        + " \"n\": ${input./n}}", Set.of());

    JsonObject rendered = new JsonObject(body.render(Template.Target.JSON_BODY, "1", hostile, ANSWERS));

    assertThat(rendered.fieldNames()).containsExactlyInAnyOrder("ref", "flag", "fail", "n");
    assertThat(rendered.getString("ref")).as("a structure in a quoted slot is text").isEqualTo("[\"\\\",\",\":\"]");
    assertThat(rendered.getString("flag")).as("a string in a bare slot is a JSON string").startsWith("true}");
    assertThat(rendered.getBoolean("fail")).as("a default is a JSON literal").isFalse();
    assertThat(rendered.getInteger("n")).isEqualTo(5);
  }

  @Test
  void aDotSegmentCannotReachAUrl() {
    assertThatThrownBy(() -> Template.parse("http://h/accounts/${input./id}/refund", Set.of())
        .render(Template.Target.URL, "1", new JsonObject().put("id", ".."), ANSWERS))
        .isInstanceOf(Template.MissingValue.class).hasMessageContaining("cannot go into a URL");
  }

  @Test
  void aValueInAUrlIsPercentEncoded() {
    Template url = Template.parse("http://h/orders/${input./customer/name}", Set.of());

    assertThat(url.render(Template.Target.URL, "1", INPUT, ANSWERS)).isEqualTo("http://h/orders/Ann%20%22the%22%20Buyer");
  }

  @Test
  void aMissingValueTakesItsDefaultOrFailsTheCall() {
    assertThat(Template.parse("${input./coupon:-none}", Set.of()).render(Template.Target.HEADER, "1", INPUT, ANSWERS))
        .isEqualTo("none");
    assertThatThrownBy(() -> Template.parse("${input./coupon}", Set.of()).render(Template.Target.HEADER, "1", INPUT, ANSWERS))
        .isInstanceOf(Template.MissingValue.class).hasMessageContaining("input./coupon");
  }

  @Test
  void aLineBreakCannotReachAHeader() {
    JsonObject input = new JsonObject().put("x", "a\r\nInjected: yes");

    assertThatThrownBy(() -> Template.parse("${input./x}", Set.of()).render(Template.Target.HEADER, "1", input, ANSWERS))
        .isInstanceOf(Template.MissingValue.class);
  }

  @Test
  void referencesToStepsThatHaveNotAnsweredAndUnknownPlaceholdersAreRefusedAtParse() {
    assertThatThrownBy(() -> Template.parse("${steps.ship.response.status}", Set.of("reserve")))
        .hasMessageContaining("step 'ship'").hasMessageContaining("readable here: reserve");
    assertThatThrownBy(() -> Template.parse("${order.id}", Set.of())).hasMessageContaining("is not one of");
    assertThatThrownBy(() -> Template.parse("x ${input./a", Set.of())).hasMessageContaining("closing");
  }
}
