package io.unbroken.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * How a route reaches an https upstream: the CA whose certificates it trusts (else the JVM's), the
 * name the upstream's certificate is checked against and sent as SNI and Host (else the upstream
 * URL's host, for an upstream reached by address), and a client certificate and key (PEM) for
 * mutual TLS.
 */
public record UpstreamTls(Optional<Path> ca, Optional<String> serverName, Optional<Path> cert, Optional<Path> key) {}
