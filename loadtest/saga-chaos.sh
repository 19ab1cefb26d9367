#!/usr/bin/env bash
# Sagas under chaos, and a naive client under the same faults: SagaChaosBenchmark
# (src/test/java/io/unbroken/bench), documented in loadtest/README.md.
#
# What it runs, all on 127.0.0.1, in one Java program bounded in time
#   1. Three in-memory ledgers (inventory, payments, shipping) in the benchmark's JVM: 20 % of actions
#      and 20 % of reversals broken by a transient fault (503 before writing, written then 503,
#      written then reset, written then silent 3 s), 2 % of refs refused for good on each ledger.
#   2. Three clustered gateway nodes from target/unbroken.jar on a fresh PostgreSQL database and a
#      fresh Redis key prefix, running the saga "order" (reserve, pay, ship, each with its reversal).
#      SAGAS orders go round robin to the nodes from CONCURRENCY lanes; node-1 is killed (kill -9)
#      when half are sent. Then it waits until every saga is terminal and checks each against the
#      ledgers: completed = applied exactly once everywhere; compensated = nothing left applied;
#      nothing applied twice anywhere.
#   3. The naive baseline: as many orders by a client calling the three ledgers itself (fresh
#      ledgers, same faults), 4 attempts per call on 5xx/timeout/reset, a new Idempotency-Key per
#      attempt, no compensation. Its success and inconsistent shares and applied-twice count are
#      printed beside the sagas'.
#
# Usage
#   mvn -B -q package -DskipTests            # builds target/unbroken.jar (it must have the saga engine)
#   loadtest/saga-chaos.sh                   # 10,000 sagas; at most ~10 min
#   SAGAS=1000 CONCURRENCY=32 loadtest/saga-chaos.sh   # smoke run, ~1-2 min
#   NAIVE_ONLY=1 loadtest/saga-chaos.sh      # only the naive baseline: no jar, PostgreSQL or Redis needed
#
# Environment (defaults in brackets)
#   SAGAS [10000]  CONCURRENCY [64]  SEED [1] (the faults' seed: the same seed draws the same faults)
#   NAIVE_ONLY [0]  SAVE_REPORT [0] (1: also write loadtest/results/saga-chaos-<timestamp>.md; do not commit it)
#   PGPORT [5432]  PGUSER [postgres] (the server is always 127.0.0.1)  REDIS_URL [redis://127.0.0.1:6379]
#   UNBROKEN_JAR [target/unbroken.jar]  JAVA_OPTS [] extra JVM options, e.g. -Dbench.terminalWaitSeconds=300
#   RUN_TIMEOUT [660] seconds the Java program may run before it is stopped
#   KEEP_TMP [0] (1: keep the nodes' configurations and logs)  MVN [mvn]  MVN_FLAGS [] (e.g. -o)  JAVA [java]
#
# Exit codes: 0 the run held every invariant (or NAIVE_ONLY), 1 an invariant failed or the run broke,
# 2 the jar is missing or has no saga engine. The database, the Redis keys under the run's prefix and
# the gateway processes are removed on exit (normal end, error or Ctrl-C).
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=loadtest/lib.sh
source "$ROOT_DIR/loadtest/lib.sh"
MVN=${MVN:-mvn}
MVN_FLAGS=${MVN_FLAGS:-}
JAVA=${JAVA:-java}
JAVA_OPTS=${JAVA_OPTS:-}
SAGAS=${SAGAS:-10000}
CONCURRENCY=${CONCURRENCY:-64}
SEED=${SEED:-1}
NAIVE_ONLY=${NAIVE_ONLY:-0}
SAVE_REPORT=${SAVE_REPORT:-0}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
PGHOST=127.0.0.1
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
UNBROKEN_JAR=${UNBROKEN_JAR:-$ROOT_DIR/target/unbroken.jar}
RUN_TIMEOUT=${RUN_TIMEOUT:-660}
KEEP_TMP=${KEEP_TMP:-0}
DATABASE=""
REDIS_PREFIX=""
JAVA_PID=""
WORK_DIR=""

check_tools() {
  local tool
  for tool in timeout "$JAVA" "$MVN"; do
    command -v "$tool" >/dev/null || die "$tool is needed (coreutils, a JDK 17 and Maven)"
  done
  [[ $SAGAS =~ ^[0-9]+$ && $SAGAS -ge 2 ]] || die "SAGAS must be a whole number of at least 2, got '$SAGAS'"
  [[ $CONCURRENCY =~ ^[0-9]+$ && $CONCURRENCY -ge 1 ]] || die "CONCURRENCY must be a whole number of at least 1"
  [[ $SEED =~ ^-?[0-9]+$ ]] || die "SEED must be a whole number, got '$SEED'"
  ((NAIVE_ONLY == 1)) && return 0
  for tool in createdb dropdb psql redis-cli unzip; do
    command -v "$tool" >/dev/null || die "$tool is needed (PostgreSQL client tools, redis-tools, unzip)"
  done
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -Atqc 'SELECT 1' >/dev/null ||
    die "PostgreSQL does not answer on $PGHOST:$PGPORT as $PGUSER"
  redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || die "Redis does not answer at $REDIS_URL (REDIS_URL)"
}

# The nodes run the jar, not the classes: it must exist and carry the saga engine.
check_jar() {
  if [[ ! -f $UNBROKEN_JAR ]]; then
    log "error: $UNBROKEN_JAR is missing: build it with mvn -B -q package -DskipTests (or run NAIVE_ONLY=1)"
    exit 2
  fi
  # A name pattern rather than a pipe into grep -q: grep quitting early would fail the pipe (pipefail).
  if ! unzip -Z1 "$UNBROKEN_JAR" 'io/unbroken/saga/*' >/dev/null 2>&1; then
    log "error: $UNBROKEN_JAR has no saga engine (no io/unbroken/saga classes): rebuild it, or run NAIVE_ONLY=1"
    exit 2
  fi
  if [[ -n $(find "$ROOT_DIR/src/main" "$ROOT_DIR/pom.xml" -newer "$UNBROKEN_JAR" -type f -print -quit) ]]; then
    log "warning: sources changed since $UNBROKEN_JAR was built; the nodes run the jar as it is"
  fi
}

fresh_database() {
  DATABASE="unbroken_chaos_$(date +%s%3N)"
  createdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$DATABASE" || { DATABASE=""; die "could not create a database"; }
  log "created database $DATABASE"
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM HUP PIPE
  # TERM lets the program stop its nodes itself (a shutdown hook); a node left behind by a harder
  # stop is found by its configuration, which lives in this run's own temporary directory.
  stop_pid "$JAVA_PID"
  JAVA_PID=""
  if [[ -n $WORK_DIR ]]; then
    for pid in $(pgrep -f -- "--config $WORK_DIR/" || true); do
      log "stopping gateway process $pid left behind"
      kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  if [[ -n $DATABASE ]]; then
    if dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$DATABASE"; then
      log "dropped database $DATABASE"
    else
      log "warning: could not drop database $DATABASE; drop it by hand: dropdb -h $PGHOST -U $PGUSER $DATABASE"
    fi
  fi
  if [[ -n $REDIS_PREFIX ]]; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$REDIS_PREFIX*" |
      xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null 2>&1 ||
      log "warning: could not delete the Redis keys under $REDIS_PREFIX"
  fi
  if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
    if ((KEEP_TMP == 1)); then
      log "kept $WORK_DIR (nodes' configurations and logs)"
    else
      rm -rf "$WORK_DIR"
    fi
  fi
  exit "$rc"
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  trap 'exit 141' PIPE

  local cp rc=0 database_url="" report=""
  local -a props
  check_tools
  ((NAIVE_ONLY == 1)) || check_jar
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unbroken-saga-chaos.XXXXXX")
  build_test_classes_if_needed "$ROOT_DIR/target/test-classes/io/unbroken/bench/SagaChaosBenchmark.class" \
    "the benchmark was not compiled"
  test_classpath "$WORK_DIR/classpath.txt"
  cp=$ROOT_DIR/target/test-classes:$ROOT_DIR/target/classes:$(cat "$WORK_DIR/classpath.txt")

  props=(-Dbench.sagas="$SAGAS" -Dbench.concurrency="$CONCURRENCY" -Dbench.seed="$SEED"
    -Dunbroken.jar="$UNBROKEN_JAR" -Dbench.workDir="$WORK_DIR/nodes")
  if ((NAIVE_ONLY == 1)); then
    props+=(-Dbench.naiveOnly=true)
  else
    fresh_database
    database_url="postgresql://$PGUSER@$PGHOST:$PGPORT/$DATABASE"
    REDIS_PREFIX="unbroken-chaos:$(date +%s%3N):$$"
    props+=(-Dbench.redis.url="$REDIS_URL" -Dbench.redis.prefix="$REDIS_PREFIX")
  fi
  if ((SAVE_REPORT == 1)); then
    report="$ROOT_DIR/loadtest/results/saga-chaos-$(date +%Y%m%d-%H%M%S).md"
    props+=(-Dbench.report="$report")
  fi

  warn_if_busy
  # In the background, so that a signal reaches the trap at once and the trap can stop it.
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
  timeout --signal=TERM --kill-after=30 "$RUN_TIMEOUT" \
    "$JAVA" -XX:+UseParallelGC -Xms256m -Xmx768m -DUNBROKEN_LOG_LEVEL=WARN $JAVA_OPTS "${props[@]}" \
    -cp "$cp" io.unbroken.bench.SagaChaosBenchmark $database_url &
  JAVA_PID=$!
  wait "$JAVA_PID" || rc=$?
  JAVA_PID=""
  ((rc != 124)) || die "the benchmark did not finish within $RUN_TIMEOUT s (RUN_TIMEOUT)"
  ((rc == 0)) || die "the benchmark failed (exit code $rc): see above"
}

main "$@"
