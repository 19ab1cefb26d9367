package io.unbroken.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports nothing listens on right now, so tests never collide with each other or the machine's
 * services. They are drawn below the kernel's ephemeral range (Linux: 32768 and up): a port the
 * kernel handed out for it would be free now, yet could be given to an outgoing connection (a
 * cluster member calling a node that is still starting) before the node listening on it binds.
 */
public final class FreePorts {

  private static final int LOWEST = 20_000;
  private static final int HIGHEST = 32_000;
  private static final Set<Integer> handedOut = ConcurrentHashMap.newKeySet();

  private FreePorts() {}

  public static int next() {
    for (int tries = 0; tries < 1_000; tries++) {
      int port = ThreadLocalRandom.current().nextInt(LOWEST, HIGHEST);
      if (handedOut.add(port) && bindable(port)) {
        return port;
      }
    }
    throw new IllegalStateException("no free port between " + LOWEST + " and " + HIGHEST);
  }

  private static boolean bindable(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
