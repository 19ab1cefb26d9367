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
