package io.unbroken;

import io.unbroken.config.ConfigException;
import io.unbroken.config.ConfigLoader;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.platform.StartupFailure;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;
import sun.misc.Signal;

/** The command line: starts one node and keeps it running until the process is told to stop. */
@Command(name = "unbroken", mixinStandardHelpOptions = true, version = "unbroken 0.1.0", usageHelpWidth = 110,
    description = {
        "A resilience gateway: makes retries, crashes and partitions harmless for the HTTP services behind it.",
        "Without --config it runs the embedded default: no Redis or PostgreSQL, nothing survives a restart,"
            + " and a demo upstream behind http://127.0.0.1:8080/."},
    footer = {"", "Precedence: built-in defaults < --config file < UNBROKEN_* environment < flags.",
        "Exit codes at start: 1 could not start (store unreachable, port taken), 2 bad configuration.",
        "A running node stops cleanly on SIGTERM: it reports not ready, stops accepting, lets in-flight requests finish",
        "within server.drainTimeout and cancels the rest, frees their keys and locks, gives back its worker id."})
public final class Unbroken implements Callable<Integer> {

  static final int CANNOT_START = 1;
  static final int BAD_CONFIG = 2;

  @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration (see conf/unbroken.yaml).")
  private Path configFile;

  @Option(names = "--cluster", description = "Join the Hazelcast cluster (cluster.members, TCP/IP).")
  private boolean cluster;

  @Option(names = "--port", paramLabel = "PORT", description = "Client listener port (server.port).")
  private Integer port;

  @Option(names = "--admin-port", paramLabel = "PORT", description = "Admin listener port (admin.port).")
  private Integer adminPort;

  @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one setting, e.g. --set redis.keyPrefix=staging.")
  private Map<String, String> settings = new LinkedHashMap<>();

  public static void main(String[] args) {
    // Headers the gateway copies were already parsed and checked by the HTTP codec; checking them
    // again on every copy costs a visible share of the proxy's CPU per request.
    System.setProperty("vertx.disableHttpHeadersValidation", "true");
    int exitCode = new CommandLine(new Unbroken()).execute(args);
    if (exitCode != 0) {
      System.exit(exitCode);
    }
  }

  @Override
  public Integer call() {
    UnbrokenConfig config;
    try {
      config = new ConfigLoader(System::getenv).load(Optional.ofNullable(configFile), overrides());
    } catch (ConfigException e) {
      System.err.println("unbroken: bad configuration: " + e.getMessage());
      return BAD_CONFIG;
    }
    try {
      UnbrokenNode node = UnbrokenNode.start(config).toCompletionStage().toCompletableFuture().join();
      Duration drain = config.server().drainTimeout();
      Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(node, drain), "unbroken-shutdown"));
      Signal.handle(new Signal("HUP"), hangup -> node.reloadCertificates());
      return 0;
    } catch (StartupFailure e) {
      System.err.println("unbroken: cannot start: " + e.getMessage());
      return CANNOT_START;
    } catch (CompletionException e) {
      System.err.println("unbroken: cannot start: " + e.getCause().getMessage());
      return CANNOT_START;
    }
  }

  private Map<String, String> overrides() {
    Map<String, String> overrides = new LinkedHashMap<>(settings);
    if (port != null) {
      overrides.put("server.port", port.toString());
    }
    if (adminPort != null) {
      overrides.put("admin.port", adminPort.toString());
    }
    if (cluster) {
      overrides.put("cluster.enabled", "true");
    }
    return overrides;
  }

  private static void stop(UnbrokenNode node, Duration drain) {
    try {
      // The drain, then the cancelled requests' answers and the stores' goodbyes.
      node.close().toCompletionStage().toCompletableFuture().get(drain.toSeconds() + 30, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("unbroken: shutdown did not complete: " + e);
    }
  }
}
