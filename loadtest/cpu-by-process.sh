#!/usr/bin/env bash
# Where a benchmark's CPU goes, process by process: every INTERVAL seconds, one line with the time
# (UTC) and the CPU each named process group used meanwhile, in percent of one core (all processes
# of that exact name, summed), then the whole machine's. Runs until stopped; start it beside a
# benchmark and read the lines of the phase in question (a route's closed-loop run, say).
#
#   loadtest/cpu-by-process.sh [INTERVAL] [NAME...]      # defaults: 2, java redis-server postgres
#
# A process that exits between two lines loses its share of that interval (a PostgreSQL backend of
# a pool does not; a connection opened per statement would). The machine's figure includes this
# script's own processes, 15-20 % of a core at the default interval on an idle 2-core machine.
set -euo pipefail
interval=${1:-2}
shift || true
if (($#)); then names=("$@"); else names=(java redis-server postgres); fi
hz=$(getconf CLK_TCK)

ticks_of() {
  local total=0 pid
  for pid in $(pgrep -x "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# Ticks over the interval as percent of one core.
percent() { awk -v t="$1" -v hz="$hz" -v ns="$elapsed_ns" 'BEGIN { printf "%.0f%%", 100 * t / hz / (ns / 1e9) }'; }
cores=$(grep -c '^cpu[0-9]' /proc/stat)
# Idle, I/O wait and stolen ticks: the machine's busy time is what the cores had less these, as
# idle time is measured exactly while user and system ticks are sampled, and miss work done in
# bursts shorter than a tick (an event loop woken per request).
not_busy_ticks() { awk '/^cpu /{print $5 + $6 + $9}' /proc/stat; }
snapshot() {
  local name
  for name in "${names[@]}"; do printf '%s ' "$(ticks_of "$name")"; done
  printf '%s %s\n' "$(not_busy_ticks)" "$(date +%s%N)"
}

read -r -a before <<<"$(snapshot)"
while sleep "$interval"; do
  read -r -a after <<<"$(snapshot)"
  last=${#names[@]}
  elapsed_ns=$((after[last + 1] - before[last + 1]))
  line=$(date -u +%T)
  for i in "${!names[@]}"; do
    line+="  ${names[i]} $(percent $((after[i] - before[i])))"
  done
  line+="  machine $(percent "$(awk -v ns="$elapsed_ns" -v hz="$hz" -v cores="$cores" -v idle=$((after[last] - before[last])) \
    'BEGIN { printf "%.0f", ns / 1e9 * hz * cores - idle }')")"
  echo "$line"
  before=("${after[@]}")
done
