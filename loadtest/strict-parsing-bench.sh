#!/usr/bin/env bash
# What the edge's strict parsing costs per request, against what a whole request costs through the
# gateway, both measured in this one invocation on this machine.
#
# 1. JMH (src/test/java/io/unbroken/gateway/StrictParsingBenchmark.java), one thread: a typical
#    API request's head through Vert.x's own decoder and through the strict one, and the framing
#    checks; strict parsing's cost is (strict - lenient) + framing checks, in ns per request.
# 2. loadtest/bench.sh, short: the gateway's CPU time per proxied request (utime+stime over the
#    requests wrk completed), all features off.
# The summary prints the first as a share of the second; the target is under 2 %.
#
# Usage: loadtest/strict-parsing-bench.sh      (after mvn package: bench.sh runs target/unbroken.jar)
#   JMH_OPTIONS [-f 3 -wi 4 -w 1s -i 6 -r 1s]   the JMH run shape (three forks: one is noisy)
#   BENCH_ENV   [WARMUP=15 DURATION=5 PAIRS=1]  settings for the loadtest/bench.sh pass
#   MVN_FLAGS="-o", JAVA=..., KEEP_TMP=1 as in the other benchmarks
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=loadtest/lib.sh
source "$ROOT_DIR/loadtest/lib.sh"
MVN=${MVN:-mvn}
MVN_FLAGS=${MVN_FLAGS:-}
JAVA=${JAVA:-java}
KEEP_TMP=${KEEP_TMP:-0}
JMH_OPTIONS=${JMH_OPTIONS:--f 3 -wi 4 -w 1s -i 6 -r 1s}
BENCH_ENV=${BENCH_ENV:-WARMUP=15 DURATION=5 PAIRS=1}
TARGET_PERCENT=2
WORK_DIR=""

# Score of one benchmark from JMH's CSV: "io.unbroken.gateway.StrictParsingBenchmark.name","avgt",...,<score>,...
score() { # csv benchmark
  awk -F, -v b="\"io.unbroken.gateway.StrictParsingBenchmark.$2\"" '
    $1 == b { printf "%.1f", $5; found = 1 }
    END { if (!found) print "n/a" }' "$1"
}

main() {
  local cp csv lenient strict framing added cpu_us percent verdict
  make_work_dir strict-bench
  csv=$WORK_DIR/jmh.csv

  cp=$(jmh_classpath "$WORK_DIR")

  machine_load "start"
  run_jmh "$cp" StrictParsingBenchmark "$csv"
  lenient=$(score "$csv" lenientDecode)
  strict=$(score "$csv" strictDecode)
  framing=$(score "$csv" framingChecks)

  log "the gateway's CPU per request: loadtest/bench.sh with $BENCH_ENV"
  # shellcheck disable=SC2086
  env $BENCH_ENV bash "$ROOT_DIR/loadtest/bench.sh" | tee "$WORK_DIR/bench.txt"
  # The medians table's unbroken row ends with the proxy's CPU microseconds per request.
  cpu_us=$(awk '/^summary: medians/ { medians = 1 } medians && $1 == "unbroken" { v = $NF } END { print v }' \
    "$WORK_DIR/bench.txt")

  added=$(awk -v s="$strict" -v l="$lenient" -v f="$framing" 'BEGIN { printf "%.1f", s - l + f }')
  percent=$(awk -v a="$added" -v c="$cpu_us" 'BEGIN { printf "%.2f", a / (c * 1000) * 100 }')
  verdict=$(awk -v p="$percent" -v t="$TARGET_PERCENT" 'BEGIN { print (p < t ? "under the target" : "OVER the target") }')

  printf '\nsummary\n'
  printf '  %-46s %10s ns\n' "decode, Vert.x's decoder" "$lenient"
  printf '  %-46s %10s ns\n' "decode, strict decoder" "$strict"
  printf '  %-46s %10s ns\n' "framing checks" "$framing"
  printf '  %-46s %10s ns\n' "strict parsing adds per request" "$added"
  printf '  %-46s %10s us\n' "gateway CPU per proxied request (bench.sh)" "$cpu_us"
  printf '  %-46s %10s %%   %s (%s %%)\n' "strict parsing / request CPU" "$percent" "$verdict" "$TARGET_PERCENT"
  printf '\n'
  machine_load "end"
}

main "$@"
