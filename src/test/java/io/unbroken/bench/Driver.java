package io.unbroken.bench;

import io.vertx.core.AsyncResult;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import java.util.function.Supplier;

/**
 * One client event loop of the load generator with its own connections. Every method may be called
 * from any thread; the work runs on this verticle's context, so its counters need no lock.
 */
final class Driver extends VerticleBase {

  /** Answers still outstanding this long after a run's end are given up (counted unfinished). */
  static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(40);

  /**
   * How the requests to a path look: sets the method and headers on {@code options} and returns
   * the body (null for none); {@code sequence} numbers this driver's requests, so a shape can give
   * each its own key.
   */
  interface RequestShape {
    RequestShape GET = (path, sequence, options) -> null;

    Buffer shape(String path, long sequence, RequestOptions options);
  }

  private final RequestShape shape;
  private long sequence;
  private final int index;
  private final int of;
  final int connections;
  private final int port;
  private HttpClientAgent client;

  /** Deploys one driver per event loop of {@code vertx}, sharing {@code connections} to {@code port}. */
  static List<Driver> deploy(Vertx vertx, int eventLoops, int connections, int port,
      IntFunction<RequestShape> shapes) {
    List<Driver> drivers = new CopyOnWriteArrayList<>();
    BenchRuns.await(vertx.deployVerticle(() -> {
      int index = drivers.size();
      Driver driver = new Driver(index, eventLoops,
          connections / eventLoops + (index < connections % eventLoops ? 1 : 0), port, shapes.apply(index));
      drivers.add(driver);
      return driver;
    }, new DeploymentOptions().setInstances(eventLoops)), Duration.ofSeconds(10));
    return drivers;
  }

  Driver(int index, int of, int connections, int port, RequestShape shape) {
    this.shape = shape;
    this.index = index;
    this.of = of;
    this.connections = connections;
    this.port = port;
  }

  @Override
  public Future<?> start() {
    client = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setPipelining(false),
        new PoolOptions().setHttp1MaxSize(connections).setMaxWaitQueueSize(-1));
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    return client.close();
  }

  /** One request; its status once the body is read. */
  Future<Integer> call(int toPort, String path) {
    return onContext(() -> get(toPort, path));
  }

  /** The body of one GET (empty unless 200). */
  Future<Buffer> body(int toPort, String path) {
    return onContext(() -> client.request(new RequestOptions().setHost("127.0.0.1").setPort(toPort).setURI(path))
        .compose(HttpClientRequest::send)
        .compose(response -> response.body().map(body -> response.statusCode() == 200 ? body : Buffer.buffer())));
  }

  /**
   * Sends {@code count} requests with one Idempotency-Key at once, each on a connection of its own;
   * how many answers came with each status.
   */
  Future<Map<Integer, Long>> storm(int toPort, String path, String key, Buffer body, int count) {
    return onContext(() -> {
      HttpClientAgent stormClient = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(false),
          new PoolOptions().setHttp1MaxSize(count));
      List<Future<Integer>> answers = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        answers.add(stormClient.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1")
                .setPort(toPort).setURI(path).putHeader("Idempotency-Key", key))
            .compose(request -> request.send(body))
            .compose(response -> response.body().map(answer -> response.statusCode())));
      }
      return Future.join(answers)
          .transform(done -> stormClient.close().map(closed -> answers.stream()
              .collect(Collectors.groupingBy(answer -> answer.succeeded() ? answer.result() : -1, TreeMap::new,
                  Collectors.counting()))));
    });
  }

  Future<Void> pause(Duration delay) {
    return onContext(() -> {
      Promise<Void> paused = Promise.promise();
      vertx.setTimer(Math.max(1, delay.toMillis()), t -> paused.complete());
      return paused.future();
    });
  }

  /** Each connection sends its next request as soon as the last one is answered, until {@code until}. */
  Future<Tally> closedLoop(String path, long from, long until) {
    return onContext(() -> {
      Tally tally = new Tally();
      Promise<Tally> done = Promise.promise();
      int[] active = {connections};
      for (int i = 0; i < connections; i++) {
        sendClosed(path, from, until, tally, done, active);
      }
      return done.future();
    });
  }

  private void sendClosed(String path, long from, long until, Tally tally, Promise<Tally> done, int[] active) {
    long sent = System.nanoTime();
    if (sent >= until) {
      if (--active[0] == 0) {
        done.complete(tally);
      }
      return;
    }
    get(port, path).onComplete(status -> {
      long answered = System.nanoTime();
      if (answered >= from && answered < until) {
        tally.count(answered - sent, status);
        tally.answeredInWindow += status.succeeded() && status.result() == 200 ? 1 : 0;
      }
      sendClosed(path, from, until, tally, done, active);
    });
  }

  /**
   * Sends this driver's share of {@code rate} requests a second, due at fixed intervals from
   * {@code start} (interleaved with the other drivers'), until {@code until}. Latency counts from
   * the moment a request was due; requests due before {@code from} are not counted.
   */
  Future<Tally> openLoop(String path, double rate, long start, long from, long until, long maxOutstanding) {
    return onContext(() -> new OpenLoop(path, rate, start, from, until, maxOutstanding).run());
  }

  private final class OpenLoop {
    private final String path;
    private final double interval;
    private final long first;
    private final long from;
    private final long until;
    private final long maxOutstanding;
    private long total;
    private final Tally tally = new Tally();
    private final Promise<Tally> done = Promise.promise();
    private long sent;
    private long outstanding;
    private long timer = -1;
    private long drainTimer = -1;

    OpenLoop(String path, double rate, long start, long from, long until, long maxOutstanding) {
      this.path = path;
      this.maxOutstanding = maxOutstanding;
      this.interval = 1e9 * of / rate;
      this.first = start + Math.round(1e9 * index / rate);
      this.from = from;
      this.until = until;
      this.total = Math.max(0, (long) Math.ceil((until - first) / interval));
    }

    Future<Tally> run() {
      timer = vertx.setPeriodic(1, t -> sendDue());
      long drainBy = Math.max(1, (until - System.nanoTime()) / 1_000_000 + DRAIN_TIMEOUT.toMillis());
      drainTimer = vertx.setTimer(drainBy, t -> {
        vertx.cancelTimer(timer);
        tally.unfinished = outstanding;
        done.tryComplete(tally);
      });
      return done.future();
    }

    private void sendDue() {
      long now = System.nanoTime();
      while (sent < total) {
        long due = first + Math.round(sent * interval);
        if (due > now) {
          break;
        }
        if (outstanding >= maxOutstanding) {
          // The route does not keep up: stop here rather than queue without end (see the class comment).
          tally.saturatedAt = (now - from) / 1e9;
          tally.backlog = outstanding;
          total = sent;
          break;
        }
        sent++;
        outstanding++;
        get(port, path).onComplete(status -> answered(due, status));
      }
      if (sent == total) {
        vertx.cancelTimer(timer);
        finishIfDrained();
      }
    }

    private void answered(long due, AsyncResult<Integer> status) {
      long now = System.nanoTime();
      outstanding--;
      if (due >= from) {
        tally.count(now - due, status);
      }
      if (now >= from && now < until && status.succeeded() && status.result() == 200) {
        tally.answeredInWindow++;
      }
      tally.lastAnswer = Math.max(tally.lastAnswer, now);
      finishIfDrained();
    }

    private void finishIfDrained() {
      if (sent == total && outstanding == 0) {
        vertx.cancelTimer(drainTimer);
        done.tryComplete(tally);
      }
    }
  }

  private Future<Integer> get(int toPort, String path) {
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(toPort)
        .setURI(path);
    Buffer body = shape.shape(path, sequence++, options);
    return client.request(options)
        .compose(request -> body == null ? request.send() : request.send(body))
        .compose(response -> response.body().map(answer -> response.statusCode()));
  }

  private <T> Future<T> onContext(Supplier<Future<T>> work) {
    Promise<T> result = Promise.promise();
    context.runOnContext(v -> work.get().onComplete(result));
    return result.future();
  }
}
