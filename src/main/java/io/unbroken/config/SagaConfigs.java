package io.unbroken.config;

import io.unbroken.saga.Template;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Reads and checks the {@code sagas:} list; every failure names the file, line and key. */
final class SagaConfigs {

  // Names become metric tags and parts of Idempotency-Keys: plain words only.
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");
  private static final Pattern HEADER_NAME = Pattern.compile("[A-Za-z0-9!#$%&'*+.^_`|~-]+");
  private static final Set<String> SET_BY_SAGAS = Set.of("idempotency-key", "x-fencing-token", "x-saga-id",
      "content-length", "transfer-encoding", "host", "connection");
  private static final SagaConfig.Retry DEFAULT_RETRY =
      new SagaConfig.Retry(3, Duration.ofMillis(100), Duration.ofSeconds(10));

  private final Section root;

  SagaConfigs(Section root) {
    this.root = root;
  }

  List<SagaConfig> read() {
    List<SagaConfig> sagas = new ArrayList<>();
    Set<String> names = new HashSet<>();
    Set<String> paths = new HashSet<>();
    for (Section s : root.sections("sagas")) {
      SagaConfig saga = saga(s);
      if (!names.add(saga.name())) {
        throw s.invalid("name", "'" + saga.name() + "' is already the name of an earlier saga");
      }
      if (!paths.add(saga.path())) {
        throw s.invalid("path", "'" + saga.path() + "' is already the path of an earlier saga");
      }
      sagas.add(saga);
    }
    return sagas;
  }

  private SagaConfig saga(Section s) {
    String name = name(s, "name");
    String path = s.requiredString("path", "where a POST starts this saga, e.g. /orders");
    if (!path.startsWith("/") || path.contains("?") || path.contains("#")) {
      throw s.invalid("path", "'" + path + "' must start with / and hold no query or fragment");
    }
    if (ConfigLoader.servedByUnbroken(path)) {
      throw s.invalid("path", "'" + path + "' is where Unbroken serves its status monitors");
    }
    Duration timeout = positive(s, "timeout", Duration.ofSeconds(30));
    SagaConfig.Retry retry = s.section("retry").map(this::retry).orElse(DEFAULT_RETRY);
    Duration stepTimeout = positive(s, "stepTimeout", Duration.ofSeconds(10));
    Duration compensationDeadline = positive(s, "compensationDeadline", Duration.ofHours(1));
    List<SagaConfig.Step> steps = steps(s);
    s.rejectUnknownKeys();
    return new SagaConfig(name, path.length() > 1 ? path.replaceAll("/+$", "") : path, timeout, retry, stepTimeout,
        compensationDeadline, steps);
  }

  private SagaConfig.Retry retry(Section s) {
    var retry = new SagaConfig.Retry(s.integer("attempts", DEFAULT_RETRY.attempts(), 1, 1000),
        s.duration("backoff", DEFAULT_RETRY.backoff()), s.duration("maxBackoff", DEFAULT_RETRY.maxBackoff()));
    s.rejectUnknownKeys();
    if (retry.maxBackoff().compareTo(retry.backoff()) < 0) {
      throw s.invalid("maxBackoff", retry.maxBackoff().toMillis() + "ms is less than backoff ("
          + retry.backoff().toMillis() + "ms)");
    }
    return retry;
  }

  private List<SagaConfig.Step> steps(Section saga) {
    List<SagaConfig.Step> steps = new ArrayList<>();
    Set<String> answered = new LinkedHashSet<>();
    for (Section s : saga.sections("steps")) {
      String name = name(s, "name");
      if (answered.contains(name)) {
        throw s.invalid("name", "'" + name + "' is already the name of an earlier step");
      }
      Section action = s.section("action").orElseThrow(() -> new ConfigException(s.origin(), s.key("action"),
          "missing: the call this step makes, e.g. { method: POST, url: http://127.0.0.1:8081/payments }"));
      SagaConfig.Call actionCall = call(action, Set.copyOf(answered));
      answered.add(name);
      // A compensation runs after its step answered, so it may read that answer and the earlier ones.
      Optional<SagaConfig.Call> compensate = s.section("compensate").map(c -> call(c, Set.copyOf(answered)));
      s.rejectUnknownKeys();
      steps.add(new SagaConfig.Step(name, actionCall, compensate));
    }
    if (steps.isEmpty()) {
      throw new ConfigException(saga.origin(), saga.key("steps"), "missing: at least one step (name and action)");
    }
    return steps;
  }

  private SagaConfig.Call call(Section s, Set<String> readable) {
    String method = s.string("method", "POST").toUpperCase(Locale.ROOT);
    if (!ConfigLoader.METHODS.contains(method)) {
      throw s.invalid("method", "'" + method + "' is not an HTTP method");
    }
    String url = s.requiredString("url", "where this call goes, e.g. http://127.0.0.1:8081/payments");
    if (!url.startsWith("http://") && !url.startsWith("https://")) {
      throw s.invalid("url", "'" + url + "' must start with http:// or https://");
    }
    Map<String, Template> headers = new LinkedHashMap<>();
    for (var header : s.stringMap("headers").entrySet()) {
      String key = "headers." + header.getKey();
      if (!HEADER_NAME.matcher(header.getKey()).matches()) {
        throw s.invalid("headers", "'" + header.getKey() + "' is not an HTTP header name");
      }
      if (SET_BY_SAGAS.contains(header.getKey().toLowerCase(Locale.ROOT))) {
        throw s.invalid("headers", "'" + header.getKey() + "' is set by Unbroken on every step call");
      }
      headers.put(header.getKey(), template(s, key, header.getValue(), readable));
    }
    Optional<Template> body = s.optionalString("body").map(text -> template(s, "body", text, readable));
    var call = new SagaConfig.Call(method, template(s, "url", url, readable), headers, body);
    s.rejectUnknownKeys();
    return call;
  }

  private static Template template(Section s, String key, String text, Set<String> readable) {
    try {
      return Template.parse(text, readable);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(s.originOf(key), s.key(key), e.getMessage());
    }
  }

  private static String name(Section s, String key) {
    String name = s.requiredString(key, "a name of letters, digits, - and _");
    if (!NAME.matcher(name).matches()) {
      throw s.invalid(key, "'" + name + "' must be letters, digits, - and _ (at most 63), starting with a letter or digit");
    }
    return name;
  }

  private static Duration positive(Section s, String key, Duration fallback) {
    Duration value = s.duration(key, fallback);
    if (value.isZero()) {
      throw s.invalid(key, "must be more than 0");
    }
    return value;
  }

  /**
   * The embedded default's saga: an order reserves stock, takes the payment and books shipping on
   * the demo upstream's ledgers; {@code "declineCard": true} in the input makes the payment fail,
   * so the reservation is compensated.
   */
  static SagaConfig demo(int demoPort) {
    String ledgers = "http://127.0.0.1:" + demoPort + "/ledgers/";
    return new SagaConfig("order", "/demo/checkout", Duration.ofSeconds(10), DEFAULT_RETRY, Duration.ofSeconds(5),
        Duration.ofHours(1), List.of(
            demoStep("reserve", ledgers + "inventory", "", Set.of()),
            demoStep("pay", ledgers + "payments", ", \"fail\": ${input./declineCard:-false}", Set.of("reserve")),
            demoStep("ship", ledgers + "shipping", "", Set.of("reserve", "pay"))));
  }

  private static SagaConfig.Step demoStep(String name, String ledger, String more, Set<String> before) {
    Set<String> withItself = new HashSet<>(before);
    withItself.add(name);
    return new SagaConfig.Step(name,
        new SagaConfig.Call("POST", Template.parse(ledger + "/entries", before), Map.of(), Optional.of(Template.parse(
            "{\"ref\": \"${saga.id}\", \"amount\": ${input./amount:-1}" + more + "}", before))),
        Optional.of(new SagaConfig.Call("POST", Template.parse(ledger + "/reversals", withItself), Map.of(),
            Optional.of(Template.parse("{\"ref\": \"${saga.id}\"}", withItself)))));
  }
}
