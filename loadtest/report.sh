#!/usr/bin/env bash
# The performance report in one command: runs three benchmarks and writes loadtest/REPORT.md with a
# table per benchmark (ours, the baseline, the ratio, the target, met or not; the floor and the
# load) and a chart per benchmark (loadtest/report/*.svg: p50, p90 and p99 against offered load,
# one line per side), plus nproc, the load averages at the start and the end, the date, the commit
# and the command.
#
#   1. passthrough  loadtest/bench.sh: Unbroken against an nginx reverse proxy to one upstream
#                   (wrk pairs: req/s, CPU per request, p99; with the JVM floors of FLOORS), then
#                   its open-loop sweep (SWEEP).
#   2. idempotency  loadtest/idempotency-bench.sh: /fresh (a new key per request) against /pass (no
#                   idempotency), and /replay; the open-loop sweep of /pass and /fresh (bench.sweep).
#                   Then, shorter, the same on Redis alone (bench.durable=false): what the durable
#                   record in PostgreSQL costs, shown as a floor line.
#   3. sync         loadtest/events-bench.sh with BENCHES=sync: /sync against /off, and its sweep.
#   Each writes machine-readable rows (bench.sh's ROWS_DIR, the programs' bench.rows), which
#   loadtest/report.mjs reads; it draws the charts with vega-lite, installed here by npm into a
#   temporary directory (not the repository).
#
# Usage (after mvn -B -q package -DskipTests, for target/unbroken.jar and the test classes)
#   flock /tmp/unbroken-bench.lock loadtest/report.sh      # ~15 min on 2 cores, bounded by STAGE_TIMEOUT
#
# Environment (defaults in brackets)
#   PASSTHROUGH_ENV  [WARMUP=25 DURATION=8 PAIRS=3 FLOORS=1 SWEEP=20,40,60,80,100 SWEEP_DURATION=5]  bench.sh settings
#   IDEMPOTENCY_OPTS [-Dbench.warmup=20 -Dbench.duration=5 -Dbench.rounds=3 -Dbench.sweep=20,40,60,80,100,120]
#   IDEMPOTENCY_REDIS_OPTS [-Dbench.warmup=12 -Dbench.duration=5 -Dbench.rounds=1 -Dbench.storm=100 -Dbench.filterKeys=1000]
#   SYNC_OPTS        [the same as IDEMPOTENCY_OPTS]
#                    (the programs' system properties; their sweep loads are shares of the durable route's
#                    own maximum, up to past it; the passthrough sweep's are shares of nginx's)
#   STAGE_TIMEOUT [480] seconds each benchmark may run before it is stopped
#   (bench.sh listens on 18180 to 18184 and 19190 unless PASSTHROUGH_ENV sets its *_PORT settings)
#   OUT_DIR [loadtest]  MVN_FLAGS [] (e.g. -o once every plugin is in ~/.m2)  KEEP_TMP [0] (1: keep the rows and logs)
#
# Every process, database and Redis prefix is the benchmark scripts' own: they start and stop them
# (the Redis keys expire 10 minutes after the run), and send traffic only to 127.0.0.1.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=loadtest/lib.sh
source "$ROOT_DIR/loadtest/lib.sh"
PASSTHROUGH_ENV=${PASSTHROUGH_ENV:-WARMUP=25 DURATION=8 PAIRS=3 FLOORS=1 SWEEP=20,40,60,80,100 SWEEP_DURATION=5}
IDEMPOTENCY_OPTS=${IDEMPOTENCY_OPTS:--Dbench.warmup=20 -Dbench.duration=5 -Dbench.rounds=3 -Dbench.sweep=20,40,60,80,100,120}
IDEMPOTENCY_REDIS_OPTS=${IDEMPOTENCY_REDIS_OPTS:--Dbench.warmup=12 -Dbench.duration=5 -Dbench.rounds=1 -Dbench.storm=100 -Dbench.filterKeys=1000}
SYNC_OPTS=${SYNC_OPTS:--Dbench.warmup=20 -Dbench.duration=5 -Dbench.rounds=3 -Dbench.sweep=20,40,60,80,100,120}
STAGE_TIMEOUT=${STAGE_TIMEOUT:-480}
OUT_DIR=${OUT_DIR:-$ROOT_DIR/loadtest}
export MVN_FLAGS=${MVN_FLAGS:-}
KEEP_TMP=${KEEP_TMP:-0}
# vega 6 and vega-lite 6 are ES modules only; these run on Node.js 18 and later
CHART_PACKAGES=(vega@5.33.1 vega-lite@5.23.0)
RUN_DIR=""
TOOLS_DIR=""
STAGE_PID=""
# Ports of its own for bench.sh (PASSTHROUGH_ENV may set others): a bench.sh started by hand on its
# defaults, holding them, does not stop the report.
PASSTHROUGH_PORTS="UPSTREAM_PORT=18181 NGINX_PORT=18182 UNBROKEN_PORT=18180 ADMIN_PORT=19190 VERTX_FLOOR_PORT=18183 NETTY_FLOOR_PORT=18184"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP PIPE
  # The benchmark scripts stop what they started on TERM (timeout passes it on).
  stop_pid "$STAGE_PID"
  [[ -n $TOOLS_DIR ]] && rm -rf "$TOOLS_DIR"
  if [[ -n $RUN_DIR && -d $RUN_DIR ]]; then
    if [[ $KEEP_TMP == 1 ]]; then log "kept $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
  fi
  exit "$rc"
}

# Runs one benchmark in the background (so that a signal reaches the trap at once), its output
# shown and kept in RUN_DIR/<name>.log; dies when it fails or outlives STAGE_TIMEOUT.
stage() { # name command...
  local name=$1 rc=0 started=$SECONDS
  shift
  log "benchmark $name: $*"
  timeout --signal=TERM --kill-after=60 "$STAGE_TIMEOUT" "$@" > >(tee "$RUN_DIR/$name.log") 2>&1 &
  STAGE_PID=$!
  wait "$STAGE_PID" || rc=$?
  STAGE_PID=""
  ((rc != 124)) || die "benchmark $name did not finish within $STAGE_TIMEOUT s (STAGE_TIMEOUT)"
  ((rc == 0)) || die "benchmark $name failed (exit code $rc; its output is above)"
  log "benchmark $name took $((SECONDS - started)) s"
}

load_averages() { cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g'; }

# The command line as run: flock's, when flock started this script.
command_line() {
  local parent
  parent=$(tr '\0' ' ' <"/proc/$PPID/cmdline" 2>/dev/null || true)
  if [[ $parent == flock\ * ]]; then printf '%s' "${parent% }"; else printf 'loadtest/report.sh'; fi
}

commit() {
  local hash
  hash=$(git -C "$ROOT_DIR" rev-parse --short HEAD)
  if [[ -n $(git -C "$ROOT_DIR" status --porcelain --untracked-files=no -- src pom.xml loadtest) ]]; then
    hash="$hash (with uncommitted changes)"
  fi
  printf '%s' "$hash"
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  trap 'exit 141' PIPE

  for tool in node npm timeout git; do
    command -v "$tool" >/dev/null || die "$tool is needed"
  done
  [[ -f $ROOT_DIR/target/unbroken.jar ]] ||
    { log "target/unbroken.jar is missing: mvn -B -q package -DskipTests"; exit 2; }
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unbroken-report.XXXXXX")
  TOOLS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unbroken-report-tools.XXXXXX")
  log "installing ${CHART_PACKAGES[*]} into $TOOLS_DIR"
  timeout 300 npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" "${CHART_PACKAGES[@]}" >/dev/null ||
    die "npm could not install ${CHART_PACKAGES[*]}"

  local started=$SECONDS load_start
  load_start=$(load_averages)
  machine_load "start"
  warn_if_busy
  # shellcheck disable=SC2086 # PASSTHROUGH_ENV is a list of assignments
  stage passthrough env $PASSTHROUGH_PORTS $PASSTHROUGH_ENV ROWS_DIR="$RUN_DIR/passthrough" "$ROOT_DIR/loadtest/bench.sh"
  stage idempotency env JAVA_OPTS="$IDEMPOTENCY_OPTS -Dbench.rows=$RUN_DIR/idempotency.tsv" \
    RUN_TIMEOUT="$STAGE_TIMEOUT" "$ROOT_DIR/loadtest/idempotency-bench.sh"
  stage idempotency-redis env JAVA_OPTS="$IDEMPOTENCY_REDIS_OPTS -Dbench.durable=false -Dbench.rows=$RUN_DIR/idempotency-redis.tsv" \
    RUN_TIMEOUT="$STAGE_TIMEOUT" "$ROOT_DIR/loadtest/idempotency-bench.sh"
  stage sync env BENCHES=sync JAVA_OPTS="$SYNC_OPTS -Dbench.rows=$RUN_DIR/sync.tsv" \
    RUN_TIMEOUT="$STAGE_TIMEOUT" "$ROOT_DIR/loadtest/events-bench.sh"
  machine_load "end"

  local elapsed=$((SECONDS - started))
  {
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'commit\t%s\n' "$(commit)"
    printf 'command\t%s\n' "$(command_line)"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'load_start\t%s\n' "$load_start"
    printf 'load_end\t%s\n' "$(load_averages)"
    printf 'elapsed\t%d min %02d s\n' $((elapsed / 60)) $((elapsed % 60))
    printf 'passthrough_settings\t%s\n' "loadtest/bench.sh with \`$PASSTHROUGH_ENV\`: wrk -t2 -c50 against each side,\
 pairs alternating which side goes first, after warming both; the sweep is PassthroughSweep (50 connections\
 on 2 client event loops, open loop, 1 s settling per run)"
    printf 'idempotency_settings\t%s\n' "IdempotencyLatencyBenchmark with \`$IDEMPOTENCY_OPTS\` (50 connections on 2\
 client event loops, POST, 1 s settling per run; node, Redis, PostgreSQL and the generator on the same cores)"
    printf 'idempotency_redis_settings\t%s\n' "\`$IDEMPOTENCY_REDIS_OPTS -Dbench.durable=false\`"
    printf 'sync_settings\t%s\n' "SyncEventsLatencyBenchmark with \`$SYNC_OPTS\` (50 connections on 2 client event\
 loops, GET, 1 s settling per run; node, PostgreSQL and the generator on the same cores)"
  } >"$RUN_DIR/meta.tsv"

  node "$ROOT_DIR/loadtest/report.mjs" "$TOOLS_DIR" "$RUN_DIR" "$OUT_DIR"
  printf 'elapsed: %d min %02d s (the benchmarks); %d s in all\n' $((elapsed / 60)) $((elapsed % 60)) "$SECONDS"
  ((SECONDS <= 1200)) || log "warning: over 20 minutes; shorten the runs (see the settings at the top)"
}

main "$@"
