package io.unbroken.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Bytes sent to a listener exactly as written, for requests no client library would send. */
public final class RawHttp {

  private RawHttp() {}

  /** Sends {@code request} and reads until the server closes the connection (or 5 s pass). */
  public static String exchange(int port, String request) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  /** {@code GET target} with a Host and {@code Connection: close}. */
  public static String get(int port, String target) throws IOException {
    return exchange(port, "GET " + target + " HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
  }
}
