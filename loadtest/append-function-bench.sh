#!/usr/bin/env bash
# What the database spends on the appends of one request, with the current append_batch function
# against the one before a given migration: the same pgbench scripts on two fresh databases, one
# migrated up to BASELINE (default 6: V4's function) and one migrated fully, rounds alternating.
#
# Scripts (one pgbench transaction each, every stream new)
#   request   what the gateway appends for one events: sync request: an opening of 2 events on a
#             new stream, then its completion of 1 event, as two calls (two commits)
#   batch4    one call with the openings of 4 requests (a small group commit)
#   group8    what a busy node's group commits carry: the openings of 8 requests with their
#             in-flight marks in one call, then their 8 completions in another (V11's form; run
#             with BASELINE=11 or later, as earlier functions take no marks)
# Runs with synchronous_commit=off, so the figures are the database's CPU per pgbench transaction
# (for request, both calls) and not the disk's flush; one client, simple protocol. Prints each round, then medians and current/baseline.
#
# Usage
#   loadtest/append-function-bench.sh                  # ~2 min
#   BASELINE=6 DURATION=8 ROUNDS=3 loadtest/append-function-bench.sh
#   BASELINE=11 SCRIPTS=group8 loadtest/append-function-bench.sh   # a new append_batch migration against V11's
# Environment: BASELINE [6]  DURATION [8] seconds per run  ROUNDS [3]
#   SCRIPTS [request batch4, and group8 when BASELINE >= 11]
#   PGPORT [5432]  PGUSER [postgres]
# Both databases are dropped on exit. All traffic goes to 127.0.0.1.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=loadtest/lib.sh
source "$ROOT_DIR/loadtest/lib.sh"
BASELINE=${BASELINE:-6}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
DEFAULT_SCRIPTS="request batch4"
((BASELINE < 11)) || DEFAULT_SCRIPTS+=" group8"
SCRIPTS=${SCRIPTS:-$DEFAULT_SCRIPTS}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
PGHOST=127.0.0.1
MIGRATIONS="$ROOT_DIR/src/main/resources/db/migration"
DATABASES=()
WORK_DIR=$(mktemp -d)

cleanup() {
  local rc=$? name
  trap - EXIT
  for name in "${DATABASES[@]}"; do
    dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$name" || log "warning: drop $name by hand"
  done
  rm -rf "$WORK_DIR"
  exit "$rc"
}
trap cleanup EXIT
# A signal ends the script with its own status; the EXIT trap then drops the databases.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

for tool in createdb dropdb psql pgbench; do
  command -v "$tool" >/dev/null || die "$tool is needed (PostgreSQL client tools)"
done

# Creates a database and applies the migrations up to version $2 (all when empty).
migrated_database() { # name up-to-version
  local name=$1 file version
  createdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$name" || die "could not create database $name"
  DATABASES+=("$name")
  while read -r file; do
    version=$(basename "$file" | sed 's/^V\([0-9]*\)__.*/\1/')
    [[ -z $2 || $version -le $2 ]] || continue
    psql -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$name" -f "$file" >/dev/null ||
      die "migration $file failed on $name"
  done < <(find "$MIGRATIONS" -name 'V*__*.sql' | sort -V)
}

# Opening: RequestAccepted + RequestForwarded on a new stream; completion: RequestCompleted at version 2.
cat >"$WORK_DIR/request.sql" <<'SQL'
\set id random(1, 1000000000)
SELECT append_batch(ARRAY['request-' || :id], ARRAY[0], ARRAY[2], ARRAY[CAST(:id AS bigint) * 4, CAST(:id AS bigint) * 4 + 1], ARRAY['RequestAccepted', 'RequestForwarded'], ARRAY['{"method": "POST", "path": "/orders", "query": null}', '{"upstream": "http://127.0.0.1:9000"}'], ARRAY['{"node": "bench"}', '{"node": "bench"}'], ARRAY[1, 2]::bigint[]);
SELECT append_batch(ARRAY['request-' || :id], ARRAY[2], ARRAY[1], ARRAY[CAST(:id AS bigint) * 4 + 2], ARRAY['RequestCompleted'], ARRAY['{"status": 200}'], ARRAY['{"node": "bench"}'], ARRAY[3]::bigint[]);
SQL
# One append_batch call for $1 requests on streams '$2-<n>': their openings (RequestAccepted +
# RequestForwarded on new streams), with their in-flight marks (V11's ninth argument) when $3 is
# "marked"; or, when $3 is "closing", their completions (RequestCompleted at version 2).
append_call() { # count prefix opening|marked|closing
  local n=$1 kind=$3 i sep ids_at streams="" expected="" sizes="" ids="" types="" data="" metadata="" hlcs=""
  local marks=""
  for ((i = 0; i < n; i++)); do
    sep=${streams:+, }
    ids_at="CAST(:id AS bigint) * $((3 * n)) + $((3 * i))"
    streams+="${sep}'$2-' || (:id * $n + $i)"
    if [[ $kind == closing ]]; then
      expected+="${sep}2" sizes+="${sep}1" ids+="${sep}$ids_at + 2" types+="${sep}'RequestCompleted'"
      data+="${sep}'{\"status\": 200}'" metadata+="${sep}'{\"node\": \"bench\"}'" hlcs+="${sep}$((2 * n + i + 1))"
    else
      expected+="${sep}0" sizes+="${sep}2" ids+="${sep}$ids_at, $ids_at + 1" types+="${sep}'RequestAccepted', 'RequestForwarded'"
      data+="${sep}'{\"path\": \"/orders\"}', '{\"upstream\": \"http://127.0.0.1:9000\"}'"
      metadata+="${sep}'{\"node\": \"bench\"}', '{\"node\": \"bench\"}'" hlcs+="${sep}$((2 * i + 1)), $((2 * i + 2))"
      marks+="${sep}'{\"request_id\": \"r$i\", \"node\": \"bench\", \"route\": \"/orders\", \"timeout_ms\": 30000}'"
    fi
  done
  [[ $kind == marked ]] && marks=", ARRAY[$marks]" || marks=""
  echo "SELECT append_batch(ARRAY[$streams], ARRAY[$expected], ARRAY[$sizes], ARRAY[$ids], ARRAY[$types], ARRAY[$data], ARRAY[$metadata], ARRAY[$hlcs]::bigint[]$marks);"
}

{ echo '\set id random(1, 200000000)'; append_call 4 batch opening; } >"$WORK_DIR/batch4.sql"
# A group commit as a busy node makes them: 8 openings with their marks, then their 8 completions
# (which clear the marks); two calls, two commits.
{ echo '\set id random(1, 100000000)'; append_call 8 group marked; append_call 8 group closing; } >"$WORK_DIR/group8.sql"

machine_load start
warn_if_busy
suffix="$(date +%s)_$$"
migrated_database "abench_baseline_$suffix" "$BASELINE"
migrated_database "abench_current_$suffix" ""
log "databases: abench_baseline_$suffix (migrations up to V$BASELINE), abench_current_$suffix (all)"

# Prints the mean latency (ms) of one pgbench run; dies with pgbench's own output when it fails.
run_once() { # database script
  local out
  out=$(PGOPTIONS="-c synchronous_commit=off" pgbench -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -n -M simple -c 1 \
    -T "$DURATION" -f "$WORK_DIR/$2.sql" "$1" 2>&1) || { printf '%s\n' "$out" >&2; die "pgbench failed: $2 on $1"; }
  sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' <<<"$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A results
printf '\n%-8s %-7s %12s %12s\n' "script" "round" "baseline ms" "current ms"
for script in $SCRIPTS; do
  for ((round = 1; round <= ROUNDS; round++)); do
    # Alternate which database goes first, so that drift does not favour either.
    if ((round % 2)); then
      base=$(run_once "abench_baseline_$suffix" "$script"); current=$(run_once "abench_current_$suffix" "$script")
    else
      current=$(run_once "abench_current_$suffix" "$script"); base=$(run_once "abench_baseline_$suffix" "$script")
    fi
    [[ -n $base && -n $current ]] || die "pgbench printed no latency for $script"
    printf '%-8s %-7s %12s %12s\n' "$script" "$round" "$base" "$current"
    results[$script.base]+="$base "
    results[$script.current]+="$current "
  done
done

printf '\nmedians (ms per pgbench transaction; request = its two calls)\n'
printf '%-8s %12s %12s %16s\n' "script" "baseline" "current" "current/baseline"
for script in $SCRIPTS; do
  base=$(tr ' ' '\n' <<<"${results[$script.base]}" | grep . | median)
  current=$(tr ' ' '\n' <<<"${results[$script.current]}" | grep . | median)
  printf '%-8s %12.3f %12.3f %15.2fx\n' "$script" "$base" "$current" "$(awk -v c="$current" -v b="$base" 'BEGIN { print c / b }')"
done
printf '\n'
machine_load end
