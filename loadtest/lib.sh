# shellcheck shell=bash
# Helpers shared by the benchmark scripts in this folder; sourced, not run. The caller sets
# ROOT_DIR, MVN and MVN_FLAGS.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

machine_load() {
  printf '%s: nproc=%s, %s\n' "$1" "$(nproc)" "$(uptime | sed 's/.*\(load average\)/\1/')"
}

# Warns when the 1-minute load average already exceeds half the cores before we start.
warn_if_busy() {
  local load1
  read -r load1 _ </proc/loadavg
  if awk -v l="$load1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    log "warning: load average $load1 on $(nproc) cores before the run: another process is busy, results will be noisy"
  fi
}

# Builds the test classes unless MARKER (a file the build makes) is newer than every source file
# and the pom; dies with MISSING when the build did not make MARKER.
build_test_classes_if_needed() { # marker missing-message
  local marker=$1
  if [[ -f $marker ]] &&
     [[ -z $(find "$ROOT_DIR/src" "$ROOT_DIR/pom.xml" -newer "$marker" -type f -print -quit) ]]; then
    log "test classes are up to date"
    return 0
  fi
  log "building test classes: $MVN -B -q $MVN_FLAGS test-compile"
  # shellcheck disable=SC2086 # MVN_FLAGS is a list of flags
  (cd "$ROOT_DIR" && "$MVN" -B -q $MVN_FLAGS test-compile >&2) || die "test-compile failed"
  [[ -f $marker ]] || die "$2"
}

test_classpath() { # output file
  # shellcheck disable=SC2086 # MVN_FLAGS is a list of flags
  (cd "$ROOT_DIR" && "$MVN" -B -q $MVN_FLAGS dependency:build-classpath -Dmdep.outputFile="$1" >&2) ||
    die "could not resolve the test classpath"
}

# A fresh WORK_DIR for one run, removed on exit unless KEEP_TMP=1. Call it from the main shell.
make_work_dir() { # name
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unbroken-$1.XXXXXX")
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    log "results kept in $WORK_DIR"
  else
    trap 'rm -rf "$WORK_DIR"' EXIT
  fi
}

# Runs the JMH benchmarks of one class with JMH_OPTIONS, results as CSV in CSV_FILE. An English
# locale keeps the numbers in the form the summaries read (1234.5, not 1234,5).
run_jmh() { # classpath benchmark-class csv-file [jmh options]
  local cp=$1 benchmark=$2 csv=$3
  shift 3
  # shellcheck disable=SC2086 # JMH_OPTIONS is a list of options
  "$JAVA" -Duser.language=en -Duser.country=US -cp "$cp" org.openjdk.jmh.Main "$benchmark" $JMH_OPTIONS \
    -rf csv -rff "$csv" "$@"
}

# The classpath of the JMH benchmarks in the test tree, built first when stale; the dependency
# list is written into WORKDIR.
jmh_classpath() { # workdir
  build_test_classes_if_needed "$ROOT_DIR/target/test-classes/META-INF/BenchmarkList" \
    "no JMH benchmark list in target/test-classes: is jmh-generator-annprocess on the processor path?"
  test_classpath "$1/classpath.txt"
  printf '%s' "$ROOT_DIR/target/test-classes:$ROOT_DIR/target/classes:$(cat "$1/classpath.txt")"
}

# Stops a process: SIGTERM, up to 10 s to end, then SIGKILL; reaps it. Nothing when it is gone.
stop_pid() { # pid
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
