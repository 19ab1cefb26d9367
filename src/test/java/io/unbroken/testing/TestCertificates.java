package io.unbroken.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A CA made for one test run with openssl, and leaf certificates it signs, as PEM files in {@code dir}. */
public final class TestCertificates {

  /** A certificate chain file and its private key file. */
  public record Leaf(Path cert, Path key) {}

  private final Path dir;

  private TestCertificates(Path dir) {
    this.dir = dir;
  }

  public static TestCertificates create(Path dir) {
    TestCertificates certificates = new TestCertificates(dir);
    certificates.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Unbroken test CA");
    return certificates;
  }

  public Path ca() {
    return dir.resolve("ca.pem");
  }

  /** A certificate for {@code name}, valid for the given subject alternative names (e.g. {@code IP:127.0.0.1}). */
  public Leaf leaf(String name, String... altNames) {
    try {
      Files.writeString(dir.resolve(name + ".ext"), "subjectAltName=" + String.join(",", altNames) + "\n"
          + "extendedKeyUsage=serverAuth,clientAuth\n");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name);
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem");
    return new Leaf(dir.resolve(name + ".pem"), dir.resolve(name + ".key"));
  }

  private void openssl(String... arguments) {
    List<String> command = new ArrayList<>(List.of("openssl"));
    command.addAll(List.of(arguments));
    try {
      Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
      String output = new String(process.getInputStream().readAllBytes());
      if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
      }
    } catch (IOException e) {
      throw new IllegalStateException("openssl could not run", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
