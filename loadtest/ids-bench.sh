#!/usr/bin/env bash
# Single-threaded throughput of Snowflake ids and the hybrid logical clock, measured with JMH
# (src/test/java/io/unbroken/ids/IdGenerationBenchmark.java), against the target of 4 million ids
# a second on one thread.
#
# Usage: loadtest/ids-bench.sh [further JMH options, e.g. -prof gc]
#   JMH_OPTIONS="..." replaces the run shape below (default: -f 1 -wi 3 -w 2s -i 5 -r 2s)
#   MVN_FLAGS="-o"    passed to every mvn call (e.g. offline)
#   JAVA=...          the java binary (default: java)
#   KEEP_TMP=1        keep the JMH result files
#
# Builds the test classes when they are missing or older than a source file, then runs
#   java -cp target/test-classes:target/classes:<test classpath> org.openjdk.jmh.Main IdGenerationBenchmark \
#     -f 1 -wi 3 -w 2s -i 5 -r 2s
# and prints a summary against the target.
# The figure depends on the machine and on what else runs on it, so the load is printed before and
# after; compare runs on one quiet machine.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=loadtest/lib.sh
source "$ROOT_DIR/loadtest/lib.sh"
MVN=${MVN:-mvn}
MVN_FLAGS=${MVN_FLAGS:-}
JAVA=${JAVA:-java}
KEEP_TMP=${KEEP_TMP:-0}
JMH_OPTIONS=${JMH_OPTIONS:--f 1 -wi 3 -w 2s -i 5 -r 2s}
WORK_DIR=""
TARGET_IDS_PER_SECOND=4000000
# 4096 sequence values per millisecond: what one worker id can issue for long, however fast the CPU.
SEQUENCE_CEILING=4096000





# Score of one benchmark (or one of its counters, "name:counter") from JMH's CSV, as a whole number.
# A line reads: "io.unbroken.ids.IdGenerationBenchmark.name","thrpt",1,5,<score>,<error>,"ops/s"
score() { # csv benchmark
  awk -F, -v b="\"io.unbroken.ids.IdGenerationBenchmark.$2\"" '
    $1 == b { printf "%.0f", $5; found = 1 }
    END { if (!found) print "n/a" }' "$1"
}

millions() { # number
  if [[ $1 == n/a ]]; then printf 'n/a'; else awk -v v="$1" 'BEGIN { printf "%.2f M/s", v / 1e6 }'; fi
}

main() {
  local cp csv next issued refused hlc verdict
  make_work_dir ids-bench
  csv=$WORK_DIR/jmh.csv

  cp=$(jmh_classpath "$WORK_DIR")

  machine_load "start"
  run_jmh "$cp" IdGenerationBenchmark "$csv" "$@"

  next=$(score "$csv" snowflakeNextId)
  issued=$(score "$csv" "snowflakeNextIdWithDefaultBound:issued")
  refused=$(score "$csv" "snowflakeNextIdWithDefaultBound:refused")
  hlc=$(score "$csv" hybridLogicalClockNow)
  if [[ $next == n/a ]]; then
    verdict="no result"
  elif ((next >= TARGET_IDS_PER_SECOND)); then
    verdict="meets the target"
  else
    verdict="BELOW the target"
  fi

  printf '\nsummary (one thread)\n'
  printf '  %-44s %14s   %s\n' "SnowflakeIds.nextId()" "$(millions "$next")" "$verdict"
  printf '  %-44s %14s\n' "  target" "$(millions "$TARGET_IDS_PER_SECOND")"
  printf '  %-44s %14s\n' "  issued with the default 5 s bound" "$(millions "$issued")"
  printf '  %-44s %14s\n' "  refused with the default 5 s bound" "$(millions "$refused")"
  printf '  %-44s %14s\n' "  sequence ceiling of one worker id" "$(millions "$SEQUENCE_CEILING")"
  printf '  %-44s %14s\n' "HybridLogicalClock.now()" "$(millions "$hlc")"
  printf '\n'
  machine_load "end"
}

main "$@"
