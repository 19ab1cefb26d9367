package io.unbroken.bench;

import static io.unbroken.bench.BenchRuns.format;

import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The passthrough benchmark's latency against offered load: {@code loadtest/bench.sh} runs it (with
 * {@code SWEEP} set) against its own nginx reverse proxy and Unbroken, both in front of one
 * upstream, after its wrk pairs. wrk keeps its connections busy (closed loop), so it says how much
 * a proxy carries, not what latency it gives at a load below that; this program offers fixed rates
 * with {@link Driver}'s open-loop generator, latency counted from when each request was due.
 *
 * <p>Procedure: warm the generator on both sides (closed loop); both on one connection, closed loop
 * (the floor: a request with nothing queued beside it); both closed loop on all connections (the
 * most this generator gets through each: being Java on the same two cores it gets fewer than wrk,
 * so the sweep's loads are shares of nginx's maximum measured here, not wrk's); then the sweep
 * ({@link LoadSweep}) at shares of nginx's maximum. Every run is printed and, with {@code bench.rows},
 * written as a row ({@link BenchRows}).
 *
 * <p>Usage: {@code PassthroughSweep NGINX_PORT UNBROKEN_PORT} (both on 127.0.0.1, path {@code /}).
 * System properties, with defaults: {@code bench.warmup} 25 (s), {@code bench.settle} 1,
 * {@code bench.duration} 10, {@code bench.connections} 50, {@code bench.clientThreads} 2,
 * {@code bench.sweep} none, {@code bench.rows} none.
 */
public final class PassthroughSweep {

  private static final String NGINX = "nginx";
  private static final String UNBROKEN = "unbroken";
  private static final String PATH = "/";

  private PassthroughSweep() {}

  public static void main(String[] args) {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: PassthroughSweep NGINX_PORT UNBROKEN_PORT");
    }
    Map<String, Integer> ports = Map.of(NGINX, Integer.parseInt(args[0]), UNBROKEN, Integer.parseInt(args[1]));
    BenchRuns.Load load = BenchRuns.Load.fromProperties();
    BenchRows rows = BenchRows.fromProperties();
    List<String> sides = List.of(NGINX, UNBROKEN);
    Vertx clientVertx = BenchRuns.eventLoops(load.clientThreads());
    try {
      Map<String, List<Driver>> drivers = Map.of(
          NGINX, Driver.deploy(clientVertx, load.clientThreads(), load.connections(), ports.get(NGINX),
              index -> Driver.RequestShape.GET),
          UNBROKEN, Driver.deploy(clientVertx, load.clientThreads(), load.connections(), ports.get(UNBROKEN),
              index -> Driver.RequestShape.GET));
      System.out.println(format("Passthrough sweep: nginx on 127.0.0.1:%d, Unbroken on 127.0.0.1:%d, GET %s",
          ports.get(NGINX), ports.get(UNBROKEN), PATH));
      System.out.println(format("  load: %d connections on %d client event loop(s); %d s per run after %d s settling",
          load.connections(), load.clientThreads(), load.duration().toSeconds(), load.settle().toSeconds()));

      if (!load.warmup().isZero()) {
        System.out.println(format("%nwarming up the generator (%d s closed loop, shared by the sides)",
            load.warmup().toSeconds()));
        sides.forEach(side -> DriverRuns.closedLoop(drivers.get(side), side, PATH, Duration.ZERO,
            load.warmup().dividedBy(sides.size())));
      }

      System.out.println(format("%none connection, closed loop (nothing queues: the floor)"));
      LoadSweep.printHeader();
      for (String side : sides) {
        List<Driver> one = Driver.deploy(clientVertx, 1, 1, ports.get(side), index -> Driver.RequestShape.GET);
        DriverRuns.Run floor = DriverRuns.closedLoop(one, side, PATH, load.settle(), load.duration());
        LoadSweep.print(side, "1 conn", Double.NaN, floor);
        rows.write("floor", side, 0, Double.NaN, floor);
      }

      System.out.println(format("%nclosed loop (as many requests as the connections carry)"));
      LoadSweep.printHeader();
      double nginxMax = Double.NaN;
      for (String side : sides) {
        DriverRuns.Run max = DriverRuns.closedLoop(drivers.get(side), side, PATH, load.settle(), load.duration());
        LoadSweep.print(side, "closed", Double.NaN, max);
        rows.write("max", side, 0, Double.NaN, max);
        nginxMax = side.equals(NGINX) ? max.rate() : nginxMax;
      }

      LoadSweep.run(LoadSweep.percentsFromProperties(), NGINX, nginxMax, sides, (side, rate) ->
          DriverRuns.openLoop(drivers.get(side), side, PATH, rate, load.settle(), load.duration()), rows);
    } finally {
      BenchRuns.await(clientVertx.close(), Duration.ofSeconds(30));
    }
  }
}
