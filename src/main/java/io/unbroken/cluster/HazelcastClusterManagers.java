package io.unbroken.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import io.unbroken.config.UnbrokenConfig;
import io.vertx.spi.cluster.hazelcast.ConfigUtil;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

/**
 * The Hazelcast cluster manager for {@code --cluster}: members found over TCP/IP from the
 * configured list (a Kubernetes headless Service name resolves to every pod), never by multicast,
 * and Hazelcast's phone-home call switched off.
 */
public final class HazelcastClusterManagers {

  private HazelcastClusterManagers() {}

  public static HazelcastClusterManager create(UnbrokenConfig.Cluster cluster) {
    System.setProperty("hazelcast.phone.home.enabled", "false");
    Config config = ConfigUtil.loadConfig();
    config.setClusterName("unbroken");
    config.setProperty("hazelcast.phone.home.enabled", "false");
    config.setProperty("hazelcast.logging.type", "slf4j");
    config.setProperty("hazelcast.shutdownhook.enabled", "false");
    config.getNetworkConfig().setPort(cluster.port()).setPortAutoIncrement(true);
    if (!"0.0.0.0".equals(cluster.host())) {
      config.getNetworkConfig().getInterfaces().setEnabled(true).addInterface(cluster.host());
    }
    JoinConfig join = config.getNetworkConfig().getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setMembers(cluster.members());
    return new HazelcastClusterManager(config);
  }
}
