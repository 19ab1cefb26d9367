#!/usr/bin/env bash
# Store benchmarks against the local PostgreSQL (and Redis): what group commit buys, what recording a
# request's life synchronously costs it, and what Idempotency-Key handling adds to a request.
#
# What it runs (from src/test/java/io/unbroken/bench, each on a fresh database of its own)
#   EventAppendBenchmark        append throughput (events/s) and latency (p50/p99) at 1 and 64
#                               concurrent writers, each append its own transaction (without group
#                               commit, pool 16) or through EventStoreClient -> EventStoreVerticle
#                               (with group commit, pool 4); ratios with/without. Target: >= 30,000
#                               events/s with 64 writers through group commit.
#   SyncEventsLatencyBenchmark  a node with routes /off (events off) and /sync (events sync) to one
#                               fast upstream; the closed-loop maximum of /off, then both routes at
#                               half that rate, open loop (latency counted from when each request was
#                               due); the latency sync adds at p50 and p99. Target: <= 2 ms at p99.
#                               First, both routes on one connection (nothing queues): the floor.
#                               When /sync cannot carry that rate at all, the comparison is repeated
#                               at half of /sync's own closed-loop maximum, a load it carries.
#   IdempotencyLatencyBenchmark routes /pass (no idempotency), /fresh (a new key each request) and
#                               /replay (replays of one key) on Redis + PostgreSQL: /pass and /fresh
#                               on one connection and Redis round trips (the floor), closed-loop
#                               maxima, then all three open loop at half of /pass's maximum; what
#                               /fresh adds at p50/p99 (targets <= 0.3 / 1 ms), replay throughput vs
#                               /pass (target >= 1); a duplicate storm (1,000 requests, one key,
#                               409 and wait routes); the Bloom filter rebuilt from 1M durable
#                               answers (targets <= 2 s, <= 2 MB). Run with BENCHES=idempotency, or
#                               loadtest/idempotency-bench.sh.
#   InflightRowBenchmark        a sync request's two commits (opening, terminal) through group commit,
#                               64 closed-loop writers, with and without its durable in-flight mark
#                               (set on its stream's row by the first, cleared by the second): what it adds at
#                               p50/p99 and requests/s with/without. Then the reaper with 100,000
#                               finished requests in the store: the orphan query before and after
#                               they were added (ratio ~1: it reads in-flight rows only), its plan,
#                               and a pass abandoning 100 orphans. Run with BENCHES=inflight.
#   Each program warms up first, then alternates the two sides over rounds (3 by default) and prints
#   every run, then medians. The machine is shared with the database and the load generator, so
#   compare the ratios and differences measured within one run, not absolute figures between machines.
#   Load averages and nproc are printed at the start and the end: a high load means something else
#   was competing and the run should be repeated.
#
# Usage
#   loadtest/events-bench.sh                     # both, ~6-8 min
#   BENCHES=append loadtest/events-bench.sh      # only the append benchmark (or BENCHES=sync)
#   JAVA_OPTS="-Dbench.duration=3 -Dbench.rounds=1 -Dbench.warmup=5" loadtest/events-bench.sh   # smoke run
#
# Environment (defaults in brackets)
#   BENCHES ["append sync"] (any of append, sync, idempotency, inflight)  PGPORT [5432]  PGUSER [postgres]
#   (the server is always 127.0.0.1)  REDIS_URL [redis://127.0.0.1:6379] (idempotency only; keys get a
#   prefix of their own and expire 10 minutes after the run: none is deleted)
#   JAVA_OPTS [] extra JVM options, e.g. -Dbench.rounds=5 (see each program's Javadoc for its settings)
#   RUN_TIMEOUT [900] seconds either program may run before it is stopped
#   MVN [mvn]  MVN_FLAGS [] passed to every mvn call (e.g. -o)  JAVA [java]
#
# Every database the script creates is dropped on exit (normal end, error or Ctrl-C), and the Java
# process it started is stopped first. All traffic goes to 127.0.0.1.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=loadtest/lib.sh
source "$ROOT_DIR/loadtest/lib.sh"
MVN=${MVN:-mvn}
MVN_FLAGS=${MVN_FLAGS:-}
JAVA=${JAVA:-java}
JAVA_OPTS=${JAVA_OPTS:-}
BENCHES=${BENCHES:-append sync}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
PGHOST=127.0.0.1
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
BENCH_PACKAGE=io.unbroken.bench
DATABASES=()
DATABASE_URL=""
JAVA_PID=""
WORK_DIR=""




check_tools() {
  local tool
  for tool in createdb dropdb psql timeout "$JAVA" "$MVN"; do
    command -v "$tool" >/dev/null || die "$tool is needed (PostgreSQL client tools, coreutils, a JDK 17 and Maven)"
  done
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -Atqc 'SELECT 1' >/dev/null ||
    die "PostgreSQL does not answer on $PGHOST:$PGPORT as $PGUSER"
}



# Creates an empty database with a name of its own and sets DATABASE_URL to it. Not called in a
# subshell, so the name is remembered for the cleanup.
fresh_database() { # purpose
  local name
  name="ebench_$1_$(date +%s)_$$_$RANDOM"
  createdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$name" || die "could not create database $name"
  DATABASES+=("$name")
  log "created database $name"
  DATABASE_URL="postgresql://$PGUSER@$PGHOST:$PGPORT/$name"
}

cleanup() {
  local rc=$? name
  trap - EXIT INT TERM HUP PIPE
  stop_pid "$JAVA_PID"
  JAVA_PID=""
  for name in "${DATABASES[@]}"; do
    # --force ends this database's own leftover sessions (PostgreSQL 13+); no other database is touched.
    if dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$name"; then
      log "dropped database $name"
    else
      log "warning: could not drop database $name; drop it by hand: dropdb -h $PGHOST -U $PGUSER $name"
    fi
  done
  [[ -n $WORK_DIR && -d $WORK_DIR ]] && rm -rf "$WORK_DIR"
  exit "$rc"
}

run_benchmark() { # class database-url classpath
  local rc=0
  printf '\n'
  # In the background, so that a signal reaches the trap at once and the trap can stop it.
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
  timeout --signal=TERM --kill-after=30 "$RUN_TIMEOUT" \
    "$JAVA" -XX:+UseParallelGC -Xms512m -Xmx512m -DUNBROKEN_LOG_LEVEL=WARN $JAVA_OPTS \
    -cp "$3" "$BENCH_PACKAGE.$1" "$2" &
  JAVA_PID=$!
  wait "$JAVA_PID" || rc=$?
  JAVA_PID=""
  ((rc != 124)) || die "$1 did not finish within $RUN_TIMEOUT s (RUN_TIMEOUT)"
  ((rc == 0)) || die "$1 failed (exit code $rc)"
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  trap 'exit 141' PIPE

  local bench cp
  for bench in $BENCHES; do
    [[ $bench == append || $bench == sync || $bench == idempotency || $bench == inflight ]] ||
      die "BENCHES may hold 'append', 'sync', 'idempotency' and 'inflight', not '$bench'"
  done
  check_tools
  if [[ " $BENCHES " == *" idempotency "* ]]; then
    redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || die "Redis does not answer at $REDIS_URL (REDIS_URL)"
  fi
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unbroken-events-bench.XXXXXX")
  build_test_classes_if_needed "$ROOT_DIR/target/test-classes/io/unbroken/bench/SyncEventsLatencyBenchmark.class" \
    "the benchmarks were not compiled"
  test_classpath "$WORK_DIR/classpath.txt"
  cp=$ROOT_DIR/target/test-classes:$ROOT_DIR/target/classes:$(cat "$WORK_DIR/classpath.txt")

  machine_load "start"
  warn_if_busy
  for bench in $BENCHES; do
    case $bench in
      append) fresh_database append; run_benchmark EventAppendBenchmark "$DATABASE_URL" "$cp" ;;
      sync) fresh_database sync; run_benchmark SyncEventsLatencyBenchmark "$DATABASE_URL" "$cp" ;;
      inflight) fresh_database inflight; run_benchmark InflightRowBenchmark "$DATABASE_URL" "$cp" ;;
      idempotency)
        fresh_database idempotency
        JAVA_OPTS="$JAVA_OPTS -Dbench.redis.url=$REDIS_URL" run_benchmark IdempotencyLatencyBenchmark "$DATABASE_URL" "$cp" ;;
    esac
  done
  printf '\n'
  machine_load "end"
}

main "$@"
