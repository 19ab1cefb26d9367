package io.unbroken.admin;

import io.unbroken.gateway.Problem;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/** The {@code asOf} query parameter of the admin API's timelines. */
final class AsOf {

  private AsOf() {}

  /**
   * The time asked for; without {@code asOf}, everything recorded so far ({@link Instant#MAX}):
   * events carry the database's time, which this node's clock may be behind, so "up to now here"
   * could hide the latest of them. Empty after answering 400 when the parameter is not a time.
   */
  static Optional<Instant> read(RoutingContext ctx) {
    String text = ctx.queryParams().get("asOf");
    try {
      return Optional.of(text == null ? Instant.MAX : OffsetDateTime.parse(text).toInstant());
    } catch (DateTimeParseException e) {
      Problem.of("bad-as-of", "Bad asOf", 400, "asOf must be an RFC 3339 time such as 2026-11-26T10:15:30Z: "
          + e.getParsedString(), null).send(ctx.response());
      return Optional.empty();
    }
  }
}
