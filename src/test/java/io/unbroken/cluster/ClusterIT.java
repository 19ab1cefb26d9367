package io.unbroken.cluster;

import static io.unbroken.testing.TestNodes.route;
import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.JoinConfig;
import com.hazelcast.core.HazelcastInstance;
import io.unbroken.UnbrokenNode;
import io.unbroken.config.RouteConfig;
import io.unbroken.config.UnbrokenConfig;
import io.unbroken.testing.Await;
import io.unbroken.testing.FreePorts;
import io.unbroken.testing.TestNodes;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code --cluster} joins nodes: two nodes started in this JVM, each told the other's address,
 * form one Hazelcast cluster over TCP/IP (multicast off) and share one event bus.
 */
class ClusterIT {

  private static final String PING = "unbroken.test.ping";
  private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(30);

  private static int portA;
  private static int portB;
  private static UnbrokenNode nodeA;
  private static UnbrokenNode nodeB;

  @BeforeAll
  static void startTwoClusteredNodes() {
    portA = FreePorts.next();
    portB = FreePorts.next();
    List<String> members = List.of("127.0.0.1:" + portA, "127.0.0.1:" + portB);
    List<RouteConfig> routes = List.of(route("/", "http://127.0.0.1:" + FreePorts.next(), Duration.ofSeconds(5), 1024));
    // One after the other: A forms the cluster alone, B joins it. Started together, each could
    // form a cluster of its own and leave the merge to Hazelcast's split-brain healing, much later.
    nodeA = Await.result(UnbrokenNode.start(clustered(routes, portA, members)), JOIN_TIMEOUT);
    nodeB = Await.result(UnbrokenNode.start(clustered(routes, portB, members)), JOIN_TIMEOUT);
  }

  @AfterAll
  static void closeNodes() {
    for (UnbrokenNode node : new UnbrokenNode[] {nodeB, nodeA}) {
      if (node != null) {
        Await.result(node.close());
      }
    }
  }

  @Test
  void bothNodesRunAClusteredVertx() {
    assertThat(nodeA.vertx().isClustered()).isTrue();
    assertThat(nodeB.vertx().isClustered()).isTrue();
  }

  @Test
  void eachClusterManagerSeesBothMembers() {
    ClusterManager a = clusterManager(nodeA);
    ClusterManager b = clusterManager(nodeB);

    Await.until("both cluster managers see two members", JOIN_TIMEOUT,
        () -> a.getNodes().size() == 2 && b.getNodes().size() == 2);

    assertThat(a.getNodes()).containsExactlyInAnyOrder(a.getNodeId(), b.getNodeId());
    assertThat(b.getNodes()).containsExactlyInAnyOrderElementsOf(a.getNodes());
    assertThat(memberAddresses(hazelcast(nodeA))).containsExactlyInAnyOrder("127.0.0.1:" + portA, "127.0.0.1:" + portB);
  }

  @Test
  void membersAreFoundOverTcpIpOnlyNeverByMulticast() {
    for (UnbrokenNode node : List.of(nodeA, nodeB)) {
      JoinConfig join = hazelcast(node).getConfig().getNetworkConfig().getJoin();

      assertThat(join.getMulticastConfig().isEnabled()).isFalse();
      assertThat(join.getAutoDetectionConfig().isEnabled()).isFalse();
      assertThat(join.getTcpIpConfig().isEnabled()).isTrue();
      assertThat(join.getTcpIpConfig().getMembers())
          .containsExactlyInAnyOrder("127.0.0.1:" + portA, "127.0.0.1:" + portB);
    }
  }

  @Test
  void aRequestSentOnNodeBIsAnsweredByAConsumerOnNodeA() {
    MessageConsumer<String> consumer = onContext(nodeA, () -> {
      MessageConsumer<String> registered = nodeA.vertx().eventBus()
          .consumer(PING, message -> message.reply("pong from " + nodeA.nodeId() + " to " + message.body()));
      return registered.completion().map(registered);
    });
    AtomicReference<String> answer = new AtomicReference<>();

    // The registration reaches node B's view of the cluster a moment after node A has stored it;
    // until then node B finds no handler, so ask again until the deadline.
    Await.until("node A answers a request sent on node B", JOIN_TIMEOUT, () -> {
      answer.set(pingFromNodeB());
      return answer.get() != null;
    });

    assertThat(answer.get()).isEqualTo("pong from " + nodeA.nodeId() + " to ping from " + nodeB.nodeId());
    onContext(nodeA, consumer::unregister);
  }

  /**
   * An embedded node that joins the cluster of {@code members} ({@code host:port}, TCP/IP) as the
   * member on 127.0.0.1:{@code clusterPort}.
   */
  private static UnbrokenConfig clustered(List<RouteConfig> routes, int clusterPort, List<String> members) {
    UnbrokenConfig embedded = TestNodes.embedded(routes);
    return new UnbrokenConfig(embedded.server(), embedded.admin(), embedded.redis(), embedded.postgres(),
        embedded.node(), new UnbrokenConfig.Cluster(true, "127.0.0.1", clusterPort, members), embedded.demo(),
        embedded.routes());
  }

  /** A request from node B; null when it failed (no handler known yet, or no answer in time). */
  private static String pingFromNodeB() {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(2_000);
    return onContext(nodeB, () -> nodeB.vertx().eventBus()
        .<String>request(PING, "ping from " + nodeB.nodeId(), options)
        .map(reply -> reply.body())
        .otherwise((String) null));
  }

  private static ClusterManager clusterManager(UnbrokenNode node) {
    return ((VertxInternal) node.vertx()).clusterManager();
  }

  private static HazelcastInstance hazelcast(UnbrokenNode node) {
    return ((HazelcastClusterManager) clusterManager(node)).getHazelcastInstance();
  }

  private static List<String> memberAddresses(HazelcastInstance hazelcast) {
    return hazelcast.getCluster().getMembers().stream()
        .map(member -> member.getAddress().getHost() + ":" + member.getAddress().getPort())
        .toList();
  }

  /** Runs event-bus calls on one of the node's contexts, as a verticle would, and waits for the result. */
  private static <T> T onContext(UnbrokenNode node, Supplier<Future<T>> call) {
    Promise<T> done = Promise.promise();
    node.vertx().getOrCreateContext().runOnContext(v -> call.get().onComplete(done));
    return Await.result(done.future());
  }
}
