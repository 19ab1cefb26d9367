# syntax=docker/dockerfile:1
#
# The gateway's image, the one k8s/deployment.yaml runs; its tag is the version in pom.xml:
#
#   docker build -t unbroken:0.1.0-SNAPSHOT .
#
# `mvn -B -Pimage package -DskipTests` builds the same image without a Docker daemon (Jib, the
# profile `image` in pom.xml): keep the two in step.

# Build stage: the shaded jar, target/unbroken.jar. Tests are skipped here; CI runs them.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /build
# The dependencies first, in a layer that is built again only when pom.xml changes. go-offline
# misses a few plugin dependencies, which the package step below fetches.
COPY pom.xml ./
RUN mvn -B -q dependency:go-offline
COPY src ./src
RUN mvn -B -q package -DskipTests

# Runtime stage: the JRE on Ubuntu, which also brings the bash that HEALTHCHECK uses and the
# `sleep` that the Deployment's preStop hook runs.
FROM eclipse-temurin:17-jre-noble
WORKDIR /app
COPY --from=build /build/target/unbroken.jar /app/unbroken.jar

# Not root, and numeric, so that Kubernetes' runAsNonRoot can check it; the same uid and gid as
# runAsUser and runAsGroup in k8s/deployment.yaml. The jar stays root's and read-only to it.
USER 10001:10001

# The heap is sized from the container's memory limit and fixed from the start (no resizing
# pauses); ParallelGC is what the passthrough benchmark found fastest (loadtest/README.md); on
# OutOfMemoryError the JVM exits, so that the container is restarted instead of limping on.
# In the environment rather than the entrypoint so that `docker run -e JAVA_TOOL_OPTIONS=...`
# or the Deployment can replace them.
ENV JAVA_TOOL_OPTIONS="-XX:InitialRAMPercentage=75 -XX:MaxRAMPercentage=75 -XX:+UseParallelGC -XX:+ExitOnOutOfMemoryError"

# Client listener, admin listener (health, metrics, admin API), Hazelcast cluster members.
EXPOSE 8080 9090 5701

# Docker's health is the node's readiness on the admin listener (Kubernetes ignores HEALTHCHECK
# and uses the Deployment's probes). The JRE image promises no curl or wget (the Ubuntu-based
# temurin images still carry both, "for historical reasons", and may drop them), and starting a
# JVM for each check would cost more than the node answering it, so bash speaks HTTP/1.0 over its
# /dev/tcp and reads the status line. The port follows UNBROKEN_ADMIN_PORT when that sets it; an
# admin.port set in the config file needs the same value here. 127.0.0.1 reaches the listener
# whether admin.host is the default 127.0.0.1 or 0.0.0.0.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${UNBROKEN_ADMIN_PORT:-9090} && printf 'GET /health/ready HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && read -r -t 2 _ status _ <&3 && [ \"$status\" = 200 ] || exit 1"]

# The configuration is mounted at /etc/unbroken, as k8s/configmap.yaml is. Without one the node
# exits with "no such file" (code 2) rather than run the embedded default, whose stores keep
# nothing across a restart. Arguments given to `docker run` replace these.
ENTRYPOINT ["java", "-jar", "/app/unbroken.jar"]
CMD ["--config", "/etc/unbroken/unbroken.yaml"]
