package io.unbroken.embedded;

import io.unbroken.embedded.Ledger.Answer;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * In-memory ledger services over HTTP, one ledger per name, created on first use: the demo
 * upstream's {@code /ledgers/...} and the target of the saga chaos benchmark. Every write needs an
 * {@code Idempotency-Key}; the same key always gets the same status and body, and changes nothing
 * the second time. A ref's action sent under another key is applied again (see {@link Ledger}),
 * so what a caller did twice is visible in {@code GET /ledgers/{ledger}}.
 *
 * <pre>
 * POST /ledgers/{ledger}/entries     {"ref": "...", "amount": 12, "fail": false}  201, 409, 422
 * POST /ledgers/{ledger}/reversals   {"ref": "..."}                               200
 * GET  /ledgers/{ledger}             {"ledger": ..., "entries": {"ref": {"applied": 1, "reversed": 0}}}
 * GET  /ledgers/{ledger}/entries/{ref}                                            200, 404
 * </pre>
 *
 * <p>{@link Faults} chosen at construction break calls on purpose, as a flaky service would: before
 * or after the write, so a caller cannot tell from a failure whether its write happened. One
 * instance may serve from several event loops; nothing it does blocks.
 */
public final class Ledgers implements Handler<HttpServerRequest> {

  /** Which way a call is broken; the {@code _AFTER} faults strike once the ledger has written. */
  public enum Fault {
    NONE,
    /** 503, nothing written. */
    UNAVAILABLE_BEFORE,
    /** Written (or replayed), then 503 instead of the answer. */
    UNAVAILABLE_AFTER,
    /** Written, then the connection reset instead of an answer. */
    RESET_AFTER,
    /** Written, then the answer held for {@link Faults#silence()}, past the caller's timeout. */
    SILENT_AFTER
  }

  /** An action ({@code /entries}) or a compensation ({@code /reversals}). */
  public enum Operation { ACTION, COMPENSATION }

  /** How calls are broken. Implementations are called from any event loop and must be thread-safe. */
  public interface Faults {

    /** Nothing broken: the demo upstream's ledgers. */
    Faults NONE = new Faults() {
      @Override
      public Fault next(Operation operation) {
        return Fault.NONE;
      }

      @Override
      public boolean refuses(String ledger, String ref) {
        return false;
      }
    };

    /** The fault this call suffers, drawn anew for every call (replays included). */
    Fault next(Operation operation);

    /**
     * Whether {@code ledger} refuses the action for {@code ref} for good (a 422); the same answer
     * every time it is asked about the same ledger and ref, so retries agree.
     */
    boolean refuses(String ledger, String ref);

    /** How long a {@link Fault#SILENT_AFTER} call waits before it answers. */
    default Duration silence() {
      return Duration.ofSeconds(3);
    }
  }

  private static final int MAX_BODY = 64 * 1024;
  private static final Answer KEY_REQUIRED = Answer.problem("idempotency-key-required", "Idempotency-Key required",
      400, "every write to a ledger needs an Idempotency-Key header", Map.of());

  private final Vertx vertx;
  private final Faults faults;
  private final Router router;
  private final Map<String, Ledger> ledgers = new ConcurrentHashMap<>();

  public Ledgers(Vertx vertx, Faults faults) {
    this.vertx = vertx;
    this.faults = faults;
    this.router = Router.router(vertx);
    router.route(HttpMethod.POST, "/ledgers/*").handler(BodyHandler.create(false).setBodyLimit(MAX_BODY));
    router.post("/ledgers/:ledger/entries").handler(this::act);
    router.post("/ledgers/:ledger/reversals").handler(this::reverse);
    router.get("/ledgers/:ledger").handler(this::showLedger);
    router.get("/ledgers/:ledger/entries/:ref").handler(this::showEntry);
    router.route().handler(context -> send(context.response(), Answer.problem("not-found", "Not found", 404,
        "no ledger resource at " + context.request().method() + " " + context.request().path(), Map.of())));
  }

  /** Serves one request under {@code /ledgers/}. */
  @Override
  public void handle(HttpServerRequest request) {
    router.handle(request);
  }

  private void act(RoutingContext context) {
    String key = context.request().getHeader("Idempotency-Key");
    JsonObject body = jsonBody(context);
    Object ref = body == null ? null : body.getValue("ref");
    Object amount = body == null ? null : body.getValue("amount");
    Object fail = body == null ? null : body.getValue("fail");
    if (key == null || key.isBlank()) {
      send(context.response(), KEY_REQUIRED);
    } else if (!(ref instanceof String name) || name.isEmpty() || !(amount instanceof Number number)
        || !(fail == null || fail instanceof Boolean)) {
      send(context.response(), badRequest("an entry is a JSON object with a non-empty string ref, a number amount"
          + " and, optionally, a boolean fail; got " + context.body().asString()));
    } else {
      String ledger = context.pathParam("ledger");
      Fault fault = faults.next(Operation.ACTION);
      if (fault == Fault.UNAVAILABLE_BEFORE) {
        send(context.response(), unavailable(ledger));
      } else {
        boolean refused = Boolean.TRUE.equals(fail) || faults.refuses(ledger, name);
        deliver(context.response(), ledger, ledger(ledger).act(key, name, number, refused), fault);
      }
    }
  }

  private void reverse(RoutingContext context) {
    String key = context.request().getHeader("Idempotency-Key");
    JsonObject body = jsonBody(context);
    Object ref = body == null ? null : body.getValue("ref");
    if (key == null || key.isBlank()) {
      send(context.response(), KEY_REQUIRED);
    } else if (!(ref instanceof String name) || name.isEmpty()) {
      send(context.response(), badRequest("a reversal is a JSON object with a non-empty string ref; got "
          + context.body().asString()));
    } else {
      String ledger = context.pathParam("ledger");
      Fault fault = faults.next(Operation.COMPENSATION);
      if (fault == Fault.UNAVAILABLE_BEFORE) {
        send(context.response(), unavailable(ledger));
      } else {
        deliver(context.response(), ledger, ledger(ledger).reverse(key, name), fault);
      }
    }
  }

  private void showLedger(RoutingContext context) {
    String name = context.pathParam("ledger");
    Ledger ledger = ledgers.get(name);
    send(context.response(), Answer.json(200, ledger != null ? ledger.toJson()
        : new JsonObject().put("ledger", name).put("entries", new JsonObject())));
  }

  private void showEntry(RoutingContext context) {
    String name = context.pathParam("ledger");
    String ref = context.pathParam("ref");
    send(context.response(), Optional.ofNullable(ledgers.get(name)).flatMap(ledger -> ledger.entry(ref))
        .map(entry -> Answer.json(200, entry))
        .orElseGet(() -> Answer.problem("not-found", "Not found", 404,
            "ledger " + name + " has no entry for ref " + ref, Map.of("ledger", name, "ref", ref))));
  }

  private Ledger ledger(String name) {
    return ledgers.computeIfAbsent(name, Ledger::new);
  }

  /** The body as a JSON object, or null when it is missing or not one. */
  private static JsonObject jsonBody(RoutingContext context) {
    try {
      return context.body().available() && !context.body().isEmpty() ? context.body().asJsonObject() : null;
    } catch (DecodeException | ClassCastException e) {
      return null;
    }
  }

  private static Answer badRequest(String detail) {
    return Answer.problem("bad-request", "Bad request", 400, detail, Map.of());
  }

  private static Answer unavailable(String ledger) {
    return Answer.problem("ledger-unavailable", "Ledger unavailable", 503,
        "ledger " + ledger + " is briefly unavailable (an injected fault); try again", Map.of("ledger", ledger));
  }

  /** Sends {@code answer}, or breaks the call as {@code fault} says now that the ledger has written. */
  private void deliver(HttpServerResponse response, String ledger, Answer answer, Fault fault) {
    switch (fault) {
      case UNAVAILABLE_AFTER -> send(response, unavailable(ledger));
      case RESET_AFTER -> response.reset();
      case SILENT_AFTER -> vertx.setTimer(Math.max(1, faults.silence().toMillis()), t -> send(response, answer));
      default -> send(response, answer);
    }
  }

  /** Writes {@code answer} unless the caller has gone (a silent call's caller usually has). */
  private static void send(HttpServerResponse response, Answer answer) {
    if (response.closed() || response.ended()) {
      return;
    }
    response.setStatusCode(answer.status())
        .putHeader("Content-Type", answer.contentType())
        .putHeader("Cache-Control", "no-store")
        .end(answer.body().copy()); // a kept answer is sent again to every retry: never hand out the original
  }
}
