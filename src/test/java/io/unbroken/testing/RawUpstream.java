package io.unbroken.testing;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An upstream on a plain socket that frames what it receives with {@link StrictHttp}, so a request
 * that a gateway passes on in a form two parsers could read differently is seen, not tidied away
 * by a lenient server library. It answers every well-framed request 200 and keeps the connection;
 * a misframed one is recorded, answered 400 and its connection closed.
 */
public final class RawUpstream implements AutoCloseable {

  private static final byte[] OK = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
      .getBytes(StandardCharsets.ISO_8859_1);
  private static final byte[] OK_TO_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n"
      .getBytes(StandardCharsets.ISO_8859_1);
  private static final byte[] REFUSED = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
      .getBytes(StandardCharsets.ISO_8859_1);

  private final ServerSocket server;
  private final List<StrictHttp.Request> received = new CopyOnWriteArrayList<>();
  private final List<String> misframed = new CopyOnWriteArrayList<>();
  private final AtomicInteger cutOff = new AtomicInteger();
  private final AtomicInteger reading = new AtomicInteger();
  private final Set<Socket> connections = ConcurrentHashMap.newKeySet();

  public RawUpstream(int port) throws IOException {
    server = new ServerSocket(port, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::accept, "raw-upstream-" + port);
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** The well-framed requests received since the last {@link #clear()}. */
  public List<StrictHttp.Request> received() {
    return List.copyOf(received);
  }

  /** Why each misframed request received since the last {@link #clear()} was refused. */
  public List<String> misframed() {
    return List.copyOf(misframed);
  }

  /** How many requests were cut off by their connection closing within them since the last {@link #clear()}. */
  public int cutOff() {
    return cutOff.get();
  }

  /** True while no connection is within a request: every request sent so far has been recorded. */
  public boolean quiet() {
    return reading.get() == 0;
  }

  public void clear() {
    received.clear();
    misframed.clear();
    cutOff.set(0);
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket connection : connections) {
      connection.close();
    }
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket connection = server.accept();
        connections.add(connection);
        Thread serving = new Thread(() -> serve(connection), "raw-upstream-connection");
        serving.setDaemon(true);
        serving.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  private void serve(Socket connection) {
    Reading in = null;
    try (connection) {
      in = new Reading(new BufferedInputStream(connection.getInputStream()));
      OutputStream out = connection.getOutputStream();
      while (answeredNext(in, out)) {
        in.done();
      }
    } catch (IOException cut) {
      if (in != null && in.within) {
        cutOff.incrementAndGet();
      }
    } finally {
      if (in != null) {
        in.done();
      }
      connections.remove(connection);
    }
  }

  /** Reads, records and answers the next request; false when the connection is to end. */
  private boolean answeredNext(Reading in, OutputStream out) throws IOException {
    StrictHttp.Request request;
    try {
      request = StrictHttp.read(in);
    } catch (StrictHttp.Misframed why) {
      misframed.add(why.getMessage());
      out.write(REFUSED);
      return false;
    }
    if (request == null) {
      return false;
    }
    received.add(request);
    out.write(request.method().equals("HEAD") ? OK_TO_HEAD : OK);
    out.flush();
    return true;
  }

  /** Counts a connection as within a request from its first byte until the request is read. */
  private final class Reading extends InputStream {
    private final InputStream in;
    private boolean within;

    Reading(InputStream in) {
      this.in = in;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0 && !within) {
        within = true;
        reading.incrementAndGet();
      }
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      int n = in.read(buffer, offset, length);
      if (n > 0 && !within) {
        within = true;
        reading.incrementAndGet();
      }
      return n;
    }

    void done() {
      if (within) {
        within = false;
        reading.decrementAndGet();
      }
    }
  }
}
