#!/usr/bin/env bash
# Unbroken passthrough benchmark: one machine, one run, three ways to the same upstream.
#
# What it measures
#   A tiny, fast upstream (its own nginx process answering "hello from upstream") is reached
#     direct     wrk -> upstream                         (the baseline: no hop at all)
#     nginx      wrk -> nginx reverse proxy -> upstream  (the yardstick: a well-tuned hop)
#     unbroken   wrk -> Unbroken -> upstream             (every feature off: events, idempotency)
#   For each run it records requests/s, p50 and p99 latency (from wrk --latency) and the CPU time
#   the proxy spent per request (utime+stime from /proc/<pid>/stat, divided by the number of
#   requests wrk completed), and of that the kernel's part (stime alone). For the direct run the
#   CPU columns are the upstream's own cost.
#
# Procedure
#   Warm Unbroken's JIT (WARMUP s), warm nginx briefly, then PAIRS alternating pairs: each pair runs
#   the direct baseline, then nginx and Unbroken back to back, swapping which goes first every
#   pair so that drift on the machine (thermal, noisy neighbours) does not favour one side.
#   Each run is DURATION s of `wrk -t2 -c$CONNS --latency`. wrk shares the cores with the
#   servers, so absolute numbers are lower than on a dedicated load generator; the ratios,
#   measured in the same run on the same machine, are what to compare.
#
# How to read the output
#   One table per pair, then medians over the pairs. The ratios are medians of per-pair ratios:
#     unbroken/nginx req/s    1.00 = as fast as nginx; higher is better
#     unbroken/nginx p99      1.00 = same tail latency; lower is better
#     unbroken/nginx CPU/req  1.00 = same CPU per request; lower is better
#     unbroken/direct req/s   what share of the hop-less throughput survives the hop
#   Load averages and nproc are printed at start and end: a high load means another process
#   was competing and the run should be repeated.
#
# Usage
#   loadtest/bench.sh                                  # full run (~30 s warm-up + 5 pairs x 30 s)
#   WARMUP=5 DURATION=3 PAIRS=1 loadtest/bench.sh      # quick smoke run
#   SKIP_UNBROKEN=1 loadtest/bench.sh                  # direct and nginx only (no jar needed)
#   SWEEP=20,40,60,80 ROWS_DIR=/tmp/x loadtest/bench.sh  # then latency against offered load, and TSV files
#   FLOORS=1 loadtest/bench.sh                         # also the two JVM floors below, in every pair
#
# Floors (with FLOORS=1, not with SKIP_UNBROKEN)
#   loadtest/ProxyFloor.java, run from the jar's class path, adds two more proxies to every pair:
#     vertx  the least a Vert.x 5 proxy does (server, pooled client, headers copied): what Unbroken
#            would cost if its own features cost nothing, on the layer it is built on
#     netty  Netty's HTTP codec on both sides, one upstream connection per client connection:
#            what a hand-written Netty pipeline could reach
#   Their ratios to nginx say how much of Unbroken's gap to nginx is Unbroken's and how much its layer's.
#
# Sweep (with SWEEP set, not with SKIP_UNBROKEN)
#   After the pairs, src/test/java/io/unbroken/bench/PassthroughSweep offers nginx and Unbroken fixed
#   rates (open loop, latency counted from when each request was due), at the percentages SWEEP lists
#   of the most nginx carried from that same generator, SWEEP_DURATION s each: p50/p90/p99 against
#   offered load. wrk cannot do this: it sends the next request only when the last is answered.
#
# Machine-readable output (with ROWS_DIR set, a directory)
#   pairs.tsv    every run: pair, target, req/s, p50 ms, p99 ms, CPU us/req, errors
#   summary.tsv  name and value: the medians (e.g. nginx_rps) and the ratios (e.g. unbroken/nginx_cpu_us)
#   sweep.tsv    the sweep's runs, as PassthroughSweep writes them (BenchRows)
#
# Environment (defaults in brackets)
#   WARMUP [30]  NGINX_WARMUP [5]  DURATION [10]  PAIRS [5]  CONNS [50]  THREADS [2]
#   NGINX_WORKERS [1]  UPSTREAM_PORT [18081]  NGINX_PORT [18082]  UNBROKEN_PORT [18080]
#   ADMIN_PORT [19090]  UNBROKEN_JAR [target/unbroken.jar]  JAVA [java]
#   SKIP_UNBROKEN [0]  KEEP_TMP [0] (keep configs, logs and raw wrk output)
#   FLOORS [0]  VERTX_FLOOR_PORT [18083]  NETTY_FLOOR_PORT [18084]
#   UNBROKEN_JVM_FLAGS ["-XX:+UseParallelGC -Xms512m -Xmx512m"] (set it empty for README's plain java -jar)
#   PROFILE [] a file name: Unbroken's measured runs are recorded with JFR (CPU sampled every 1 ms,
#     allocations sampled) into PROFILE, summarised as text into PROFILE.txt by loadtest/JfrSummary.java
#   PROFILER [jfr] async: instead of JFR, async-profiler (tools.profiler:async-profiler from Maven
#     Central, attached with jcmd) samples the CPU of every JVM target (Unbroken and, with FLOORS=1,
#     the floors) every 1 ms during its own measured runs, the kernel's frames included, which JFR
#     does not see; PROFILE.<target>.<pair>.collapsed, and PROFILE.txt by loadtest/CollapsedSummary.java:
#     microseconds of CPU per request by layer and frame, and Unbroken's against the Vert.x floor's
#   ASYNC_PROFILER_VERSION [4.1]
#   SWEEP [] (percentages, comma separated)  SWEEP_DURATION [5]  SWEEP_WARMUP [5]  ROWS_DIR []
#   MVN [mvn]  MVN_FLAGS [] (for the sweep's classpath, e.g. -o)
#
# All traffic goes to 127.0.0.1, every run is bounded in time, and every process the script
# starts is stopped on exit (normal end, error or Ctrl-C).
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=loadtest/lib.sh
source "$ROOT_DIR/loadtest/lib.sh"

WARMUP=${WARMUP:-30}
NGINX_WARMUP=${NGINX_WARMUP:-5}
DURATION=${DURATION:-10}
PAIRS=${PAIRS:-5}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
# One nginx worker: nginx is then measured as the single-core event loop it is, while its
# CPU per request (the fairest measure, independent of worker count) is reported as well.
# With `auto` (2 workers here) nginx, its upstream and wrk fight over the same 2 cores. Measured
# once on this 2-core machine (3 pairs of 10 s, 50 connections, medians):
#   1 worker:  ~69k req/s, p99 2.7 ms, 12.6 us CPU/req   (direct ~99k req/s)
#   auto (2):  ~70k req/s, p99 3.0 ms, 13.1 us CPU/req   (direct ~94k req/s)
# Throughput is the same within noise, tail and CPU are slightly better with 1, so 1 it is.
# Set NGINX_WORKERS=auto to compare on another machine.
NGINX_WORKERS=${NGINX_WORKERS:-1}
UPSTREAM_PORT=${UPSTREAM_PORT:-18081}
NGINX_PORT=${NGINX_PORT:-18082}
UNBROKEN_PORT=${UNBROKEN_PORT:-18080}
ADMIN_PORT=${ADMIN_PORT:-19090}
UNBROKEN_JAR=${UNBROKEN_JAR:-$ROOT_DIR/target/unbroken.jar}
JAVA=${JAVA:-java}
SKIP_UNBROKEN=${SKIP_UNBROKEN:-0}
FLOORS=${FLOORS:-0}
# The floors are compared with Unbroken: without it there is nothing to compare.
if [[ $SKIP_UNBROKEN == 1 ]]; then FLOORS=0; fi
VERTX_FLOOR_PORT=${VERTX_FLOOR_PORT:-18083}
NETTY_FLOOR_PORT=${NETTY_FLOOR_PORT:-18084}
KEEP_TMP=${KEEP_TMP:-0}
UNBROKEN_JVM_FLAGS=${UNBROKEN_JVM_FLAGS-"-XX:+UseParallelGC -Xms512m -Xmx512m"}
PROFILE=${PROFILE:-}
PROFILER=${PROFILER:-jfr}
[[ $PROFILER == jfr || $PROFILER == async ]] || die "PROFILER is jfr or async, not '$PROFILER'"
ASYNC_PROFILER_VERSION=${ASYNC_PROFILER_VERSION:-4.1}
SWEEP=${SWEEP:-}
SWEEP_DURATION=${SWEEP_DURATION:-5}
SWEEP_WARMUP=${SWEEP_WARMUP:-5}
ROWS_DIR=${ROWS_DIR:-}
MVN=${MVN:-mvn}
MVN_FLAGS=${MVN_FLAGS:-}

UPSTREAM_BODY="hello from upstream"
CLK_TCK=""
NGINX_BIN=""
WORK_DIR=""
UPSTREAM_PID=""
PROXY_PID=""
JAVA_PID=""
SWEEP_PID=""
VERTX_FLOOR_PID=""
NETTY_FLOOR_PID=""
POLICY_RC_CREATED=""
ASYNC_PROFILER_LIB=""
RESULTS=""
ALL_TARGETS=()

# ---------------------------------------------------------------------------------------------
# helpers




# Reads numbers, one per line, prints their median (or n/a when there are none).
median() {
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) { print "n/a"; exit }
          if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Prints $1 with printf format $2 unless it is n/a.
# shellcheck disable=SC2059 # the format is the argument
fmt() { if [[ $1 == n/a ]]; then printf '%s' n/a; else printf "$2" "$1"; fi; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# tools

install_tools() {
  NGINX_BIN=$(command -v nginx || true)
  [[ -z $NGINX_BIN && -x /usr/sbin/nginx ]] && NGINX_BIN=/usr/sbin/nginx
  if command -v wrk >/dev/null && [[ -n $NGINX_BIN ]]; then return 0; fi

  [[ $(id -u) == 0 ]] || die "wrk and nginx are needed: sudo apt-get install -y wrk nginx"
  # Keep the package's postinst from starting the system nginx service: we run our own.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  log "installing wrk and nginx (Debian packages)"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx >&2
  if [[ -n $POLICY_RC_CREATED ]]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=""; fi

  NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
  [[ -x $NGINX_BIN ]] || die "nginx not found after install"
  command -v wrk >/dev/null || die "wrk not found after install"
}

check_jar() {
  [[ $SKIP_UNBROKEN == 1 ]] && return 0
  if [[ ! -f $UNBROKEN_JAR ]]; then
    log "Unbroken jar not found: $UNBROKEN_JAR"
    log "build it first:  mvn -B -q package -DskipTests   (or set UNBROKEN_JAR, or SKIP_UNBROKEN=1)"
    exit 2
  fi
}

# ---------------------------------------------------------------------------------------------
# processes

# Common top of both nginx configs: everything lives under $WORK_DIR/<name>.
nginx_common() { # name workers
  local dir=$WORK_DIR/$1
  cat <<EOF
worker_processes $2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
EOF
}

nginx_temp_paths() { # name
  local dir=$WORK_DIR/$1
  cat <<EOF
  client_body_temp_path $dir/body;
  proxy_temp_path       $dir/proxy;
  fastcgi_temp_path     $dir/fastcgi;
  uwsgi_temp_path       $dir/uwsgi;
  scgi_temp_path        $dir/scgi;
EOF
}

write_upstream_conf() {
  mkdir -p "$WORK_DIR/upstream"
  {
    nginx_common upstream 1
    cat <<EOF
http {
$(nginx_temp_paths upstream)
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT backlog=4096;
    location / {
      default_type text/plain;
      return 200 "$UPSTREAM_BODY\n";
    }
  }
}
EOF
  } >"$WORK_DIR/upstream/nginx.conf"
}

write_proxy_conf() {
  mkdir -p "$WORK_DIR/proxy"
  {
    nginx_common proxy "$NGINX_WORKERS"
    cat <<EOF
http {
$(nginx_temp_paths proxy)
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  upstream backend {
    server 127.0.0.1:$UPSTREAM_PORT;
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } >"$WORK_DIR/proxy/nginx.conf"
}

write_unbroken_conf() {
  cat >"$WORK_DIR/unbroken.yaml" <<EOF
server:   { host: 127.0.0.1, port: $UNBROKEN_PORT }
admin:    { host: 127.0.0.1, port: $ADMIN_PORT }
routes:
  - prefix: /
    upstream: http://127.0.0.1:$UPSTREAM_PORT
    timeout: 30s
    events: off
    idempotency: { mode: off }
EOF
}

start_nginx() { # name; sets STARTED_PID (not a subshell, so the pid stays our child)
  local name=$1
  "$NGINX_BIN" -p "$WORK_DIR/$name" -c "$WORK_DIR/$name/nginx.conf" -e "$WORK_DIR/$name/error.log" \
    >>"$WORK_DIR/$name/stdout.log" 2>&1 &
  STARTED_PID=$!
}

# Polls url until it answers 2xx with a body containing $2 (empty: any body), at most $3 s.
wait_http() { # url expected timeout_s pid
  local url=$1 expected=$2 timeout=$3 pid=$4 deadline body
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if body=$(curl -fs --max-time 2 "$url" 2>/dev/null) && [[ $body == *"$expected"* ]]; then
      return 0
    fi
    sleep 0.25
  done
  return 1
}

start_upstream() {
  write_upstream_conf
  start_nginx upstream
  UPSTREAM_PID=$STARTED_PID
  wait_http "http://127.0.0.1:$UPSTREAM_PORT/" "$UPSTREAM_BODY" 10 "$UPSTREAM_PID" ||
    { cat "$WORK_DIR/upstream/"*.log >&2 || true; die "upstream nginx did not start"; }
  log "upstream nginx pid $UPSTREAM_PID on 127.0.0.1:$UPSTREAM_PORT"
}

start_proxy() {
  write_proxy_conf
  start_nginx proxy
  PROXY_PID=$STARTED_PID
  wait_http "http://127.0.0.1:$NGINX_PORT/" "$UPSTREAM_BODY" 10 "$PROXY_PID" ||
    { cat "$WORK_DIR/proxy/"*.log >&2 || true; die "nginx proxy did not start"; }
  log "nginx proxy pid $PROXY_PID ($NGINX_WORKERS worker(s)) on 127.0.0.1:$NGINX_PORT"
}

start_unbroken() {
  write_unbroken_conf
  log "starting Unbroken: $UNBROKEN_JAR"
  # shellcheck disable=SC2086 # UNBROKEN_JVM_FLAGS is a list of flags
  "$JAVA" $UNBROKEN_JVM_FLAGS -jar "$UNBROKEN_JAR" --config "$WORK_DIR/unbroken.yaml" \
    >"$WORK_DIR/unbroken.log" 2>&1 &
  JAVA_PID=$!
  if ! wait_http "http://127.0.0.1:$ADMIN_PORT/health/live" "" 60 "$JAVA_PID" ||
     ! wait_http "http://127.0.0.1:$UNBROKEN_PORT/" "$UPSTREAM_BODY" 10 "$JAVA_PID"; then
    tail -n 40 "$WORK_DIR/unbroken.log" >&2 || true
    die "Unbroken did not become ready (log above)"
  fi
  log "Unbroken pid $JAVA_PID on 127.0.0.1:$UNBROKEN_PORT (admin $ADMIN_PORT), JVM flags: ${UNBROKEN_JVM_FLAGS:-none}"
}

# The floors of loadtest/ProxyFloor.java, with the same JVM flags as Unbroken.
start_floors() {
  [[ $FLOORS == 1 ]] || return 0
  local kind port
  for kind in vertx netty; do
    port=$(port_of "$kind")
    # shellcheck disable=SC2086 # UNBROKEN_JVM_FLAGS is a list of flags
    "$JAVA" $UNBROKEN_JVM_FLAGS -cp "$UNBROKEN_JAR" "$ROOT_DIR/loadtest/ProxyFloor.java" "$kind" "$port" \
      "$UPSTREAM_PORT" >"$WORK_DIR/$kind-floor.log" 2>&1 &
    if [[ $kind == vertx ]]; then VERTX_FLOOR_PID=$!; else NETTY_FLOOR_PID=$!; fi
    wait_http "http://127.0.0.1:$port/" "$UPSTREAM_BODY" 60 "$!" ||
      { tail -n 40 "$WORK_DIR/$kind-floor.log" >&2 || true; die "the $kind floor did not start"; }
    log "$kind floor pid $! on 127.0.0.1:$port"
  done
}

# JFR settings for the profile: the default 20 ms sampling would give a few hundred samples a run.
write_profile_settings() {
  cat >"$WORK_DIR/profile.jfc" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ExecutionSample"><setting name="enabled">true</setting><setting name="period">1 ms</setting></event>
  <event name="jdk.ObjectAllocationSample">
    <setting name="enabled">true</setting><setting name="throttle">300/s</setting><setting name="stackTrace">true</setting>
  </event>
</configuration>
EOF
}

start_profile() {
  [[ -n $PROFILE && $SKIP_UNBROKEN != 1 && $PROFILER == jfr ]] || return 0
  write_profile_settings
  jcmd "$JAVA_PID" JFR.start name=bench settings="$WORK_DIR/profile.jfc" >&2 || die "could not start JFR in pid $JAVA_PID"
}

stop_profile() {
  [[ -n $PROFILE && $SKIP_UNBROKEN != 1 ]] || return 0
  if [[ $PROFILER == async ]]; then
    summarize_async_profiles
    return 0
  fi
  jcmd "$JAVA_PID" JFR.stop name=bench filename="$(realpath -m "$PROFILE")" >&2 || die "could not stop JFR in pid $JAVA_PID"
  "$JAVA" "$ROOT_DIR/loadtest/JfrSummary.java" "$PROFILE" 40 >"$PROFILE.txt"
  log "profile in $PROFILE, its summary in $PROFILE.txt"
}

# async-profiler's agent for this machine, from the jar Maven Central serves (it holds one per platform).
fetch_async_profiler() {
  [[ -n $PROFILE && $SKIP_UNBROKEN != 1 && $PROFILER == async ]] || return 0
  local platform dir=$WORK_DIR/async-profiler
  case $(uname -m) in
    x86_64) platform=linux-x64 ;;
    aarch64) platform=linux-arm64 ;;
    *) die "async-profiler has no agent for $(uname -m)" ;;
  esac
  # shellcheck disable=SC2086 # MVN_FLAGS is a list of options
  "$MVN" -B -q $MVN_FLAGS -f "$ROOT_DIR/pom.xml" dependency:copy -DoutputDirectory="$dir" \
    -Dartifact="tools.profiler:async-profiler:$ASYNC_PROFILER_VERSION" >&2 ||
    die "could not fetch tools.profiler:async-profiler:$ASYNC_PROFILER_VERSION"
  (cd "$dir" && jar xf "async-profiler-$ASYNC_PROFILER_VERSION.jar" "$platform/libasyncProfiler.so") ||
    die "no $platform agent in async-profiler $ASYNC_PROFILER_VERSION"
  ASYNC_PROFILER_LIB=$dir/$platform/libasyncProfiler.so
  mkdir -p "$(dirname "$(realpath -m "$PROFILE")")"
}

# Starts or stops (into PROFILE.<target>.<pair>.collapsed) async-profiler in a JVM target.
async_profile() { # start|stop target pair
  [[ -n $ASYNC_PROFILER_LIB ]] || return 0
  local pid command out
  case $2 in
    unbroken) pid=$JAVA_PID ;;
    vertx) pid=$VERTX_FLOOR_PID ;;
    netty) pid=$NETTY_FLOOR_PID ;;
    *) return 0 ;;
  esac
  command="start,event=cpu,interval=1ms"
  [[ $1 == stop ]] && command="stop,collapsed,file=$(realpath -m "$PROFILE.$2.$3.collapsed")"
  # jcmd splits its arguments at commas unless they are quoted for it.
  out=$(jcmd "$pid" JVMTI.agent_load "$ASYNC_PROFILER_LIB" "\"$command\"" 2>&1) && [[ $out == *"return code: 0"* ]] ||
    die "async-profiler could not $1 in $2 (pid $pid): $out"
}

# CPU per request of each profiled target: its samples over the requests wrk counted in its runs.
summarize_async_profiles() {
  local target pair files requests specs=()
  for target in vertx unbroken netty; do
    files="" requests=0
    for ((pair = 1; pair <= PAIRS; pair++)); do
      [[ -f $PROFILE.$target.$pair.collapsed ]] || continue
      files+=${files:+,}$PROFILE.$target.$pair.collapsed
      requests=$((requests + $(awk '/ requests in / { print $1 }' "$WORK_DIR/wrk-$pair-$target.txt")))
    done
    [[ -n $files ]] && specs+=("$target=$requests:$files")
  done
  "$JAVA" "$ROOT_DIR/loadtest/CollapsedSummary.java" 1000 25 "${specs[@]}" >"$PROFILE.txt" ||
    die "could not summarize the profiles"
  log "profiles in $PROFILE.*.collapsed, their summary in $PROFILE.txt"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP PIPE
  stop_pid "$SWEEP_PID"
  stop_pid "$VERTX_FLOOR_PID"
  stop_pid "$NETTY_FLOOR_PID"
  stop_pid "$JAVA_PID"
  stop_pid "$PROXY_PID"
  stop_pid "$UPSTREAM_PID"
  [[ -n $POLICY_RC_CREATED ]] && rm -f /usr/sbin/policy-rc.d
  if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
    if [[ $KEEP_TMP == 1 ]]; then log "kept $WORK_DIR"; else rm -rf "$WORK_DIR"; fi
  fi
  exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# measuring

# The pids whose CPU is charged to a target: nginx master + its workers, or the JVM.
pids_of() { # target
  case $1 in
    direct) echo "$UPSTREAM_PID" "$(pgrep -P "$UPSTREAM_PID" | tr '\n' ' ')" ;;
    nginx) echo "$PROXY_PID" "$(pgrep -P "$PROXY_PID" | tr '\n' ' ')" ;;
    unbroken) echo "$JAVA_PID" ;;
    vertx) echo "$VERTX_FLOOR_PID" ;;
    netty) echo "$NETTY_FLOOR_PID" ;;
  esac
}

port_of() { # target
  case $1 in
    direct) echo "$UPSTREAM_PORT" ;;
    nginx) echo "$NGINX_PORT" ;;
    unbroken) echo "$UNBROKEN_PORT" ;;
    vertx) echo "$VERTX_FLOOR_PORT" ;;
    netty) echo "$NETTY_FLOOR_PORT" ;;
  esac
}

url_of() { echo "http://127.0.0.1:$(port_of "$1")/"; }

# Sums of utime+stime and of stime alone (fields 14 and 15 of /proc/<pid>/stat, clock ticks) over
# the given pids, as "total kernel": the kernel's share is the sockets' work, which no proxy avoids.
cpu_ticks() {
  local pid total=0 kernel=0 stat rest
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${stat##*) }           # drop "pid (comm) ": the comm may contain spaces
    read -r -a f <<<"$rest"     # f[0] is field 3, so field 14 is f[11] and 15 is f[12]
    total=$((total + f[11] + f[12]))
    kernel=$((kernel + f[12]))
  done
  echo "$total $kernel"
}

# Microseconds of CPU per request from clock ticks.
per_request() { # ticks requests
  awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }'
}

# wrk latency value ("812.00us", "1.23ms", "2.00s", "1.00m") -> milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    else if (u == "h") n *= 3600000
    printf "%.3f", n }'
}

# Runs wrk against a target and appends "pair target rps p50 p99 cpu_us errors kernel_us" to $RESULTS.
measure() { # pair target duration_s
  local pair=$1 target=$2 duration=$3 out pids before after before_kernel after_kernel requests rps p50 p99 cpu_us
  local errors kernel_us
  out=$WORK_DIR/wrk-$pair-$target.txt
  pids=$(pids_of "$target")
  # shellcheck disable=SC2086
  read -r before before_kernel < <(cpu_ticks $pids)
  wrk -t"$THREADS" -c"$CONNS" -d"${duration}s" --latency "$(url_of "$target")" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed against $target"; }
  # shellcheck disable=SC2086
  read -r after after_kernel < <(cpu_ticks $pids)

  requests=$(awk '/ requests in / { print $1 }' "$out")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  errors=$(awk '/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
                /Non-2xx or 3xx responses:/ { e += $NF } END { print e + 0 }' "$out")
  [[ -n $requests && -n $rps ]] || { cat "$out" >&2; die "could not parse wrk output for $target"; }
  cpu_us=$(per_request $((after - before)) "$requests")
  kernel_us=$(per_request $((after_kernel - before_kernel)) "$requests")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pair" "$target" "$rps" "$p50" "$p99" "$cpu_us" "$errors" "$kernel_us" \
    >>"$RESULTS"
  ((errors == 0)) || log "warning: $target had $errors socket errors or non-2xx answers (see $out)"
}

warm_up() { # target seconds
  ((${2%.*} > 0)) || return 0
  log "warming up $1 for $2 s"
  wrk -t"$THREADS" -c"$CONNS" -d"${2}s" "$(url_of "$1")" >/dev/null 2>&1 || die "warm-up of $1 failed"
}

print_pair() { # pair
  printf '\npair %s of %s  (%s s per run, %s connections, %s wrk threads)\n' "$1" "$PAIRS" "$DURATION" "$CONNS" "$THREADS"
  printf '  %-9s %12s %10s %10s %12s %12s %8s\n' target "req/s" "p50 ms" "p99 ms" "CPU us/req" "in kernel" errors
  awk -F'\t' -v p="$1" '$1 == p { printf "  %-9s %12.0f %10.3f %10.3f %12.1f %12.1f %8d\n", $2, $3, $4, $5, $6, $8, $7 }' \
    "$RESULTS"
}

# Column $2 of target $1, one value per pair.
column_of() { awk -F'\t' -v t="$1" -v c="$2" '$2 == t { print $c }' "$RESULTS"; }

# Per-pair ratio of column c between targets a and b, one value per pair that has both.
ratios() { # a b column
  awk -F'\t' -v a="$1" -v b="$2" -v c="$3" '
    $2 == a { x[$1] = $c } $2 == b { y[$1] = $c }
    END { for (p in x) if ((p in y) && y[p] > 0) print x[p] / y[p] }' "$RESULTS"
}

print_summary() {
  local t
  printf '\nsummary: medians over %s pair(s)\n' "$PAIRS"
  printf '  %-9s %12s %10s %10s %12s %12s\n' target "req/s" "p50 ms" "p99 ms" "CPU us/req" "in kernel"
  for t in "${ALL_TARGETS[@]}"; do
    printf '  %-9s %12s %10s %10s %12s %12s\n' "$t" \
      "$(fmt "$(column_of "$t" 3 | median)" %.0f)" "$(fmt "$(column_of "$t" 4 | median)" %.3f)" \
      "$(fmt "$(column_of "$t" 5 | median)" %.3f)" "$(fmt "$(column_of "$t" 6 | median)" %.1f)" \
      "$(fmt "$(column_of "$t" 8 | median)" %.1f)"
  done
  printf '  (CPU for direct is the upstream server'"'"'s own; for the others, the proxy'"'"'s; "in kernel": its\n'
  printf '   system time, the sockets'"'"' work, which every proxy pays)\n'
  printf '\nratios: medians of per-pair ratios\n'
  printf '  %-28s %s\n' "nginx/direct req/s" "$(fmt "$(ratios nginx direct 3 | median)" %.2f)"
  if [[ $SKIP_UNBROKEN == 1 ]]; then
    printf '  (Unbroken skipped: SKIP_UNBROKEN=1)\n'
    return 0
  fi
  printf '  %-28s %s   (higher is better)\n' "unbroken/nginx req/s" "$(fmt "$(ratios unbroken nginx 3 | median)" %.2f)"
  printf '  %-28s %s   (lower is better)\n' "unbroken/nginx p99" "$(fmt "$(ratios unbroken nginx 5 | median)" %.2f)"
  printf '  %-28s %s   (lower is better)\n' "unbroken/nginx CPU per req" "$(fmt "$(ratios unbroken nginx 6 | median)" %.2f)"
  printf '  %-28s %s   (the same, the kernel'"'"'s part only)\n' "unbroken/nginx CPU in kernel" \
    "$(fmt "$(ratios unbroken nginx 8 | median)" %.2f)"
  printf '  %-28s %s\n' "unbroken/direct req/s" "$(fmt "$(ratios unbroken direct 3 | median)" %.2f)"
  [[ $FLOORS == 1 ]] || return 0
  local floor
  for floor in vertx netty; do
    printf '  %-28s %s req/s, %s p99, %s CPU per req   (%s floor)\n' "$floor/nginx" \
      "$(fmt "$(ratios "$floor" nginx 3 | median)" %.2f)" "$(fmt "$(ratios "$floor" nginx 5 | median)" %.2f)" \
      "$(fmt "$(ratios "$floor" nginx 6 | median)" %.2f)" "$floor"
  done
  printf '  %-28s %s   (the share of CPU that is Unbroken'"'"'s own work above its layer'"'"'s)\n' \
    "unbroken/vertx CPU per req" "$(fmt "$(ratios unbroken vertx 6 | median)" %.2f)"
}

# The medians and ratios of print_summary as "name<TAB>value" lines.
summary_rows() {
  local t column
  for t in "${ALL_TARGETS[@]}"; do
    for column in 3:rps 4:p50_ms 5:p99_ms 6:cpu_us 8:kernel_us; do
      printf '%s_%s\t%s\n' "$t" "${column#*:}" "$(column_of "$t" "${column%%:*}" | median)"
    done
  done
  printf 'nginx/direct_rps\t%s\n' "$(ratios nginx direct 3 | median)"
  [[ $SKIP_UNBROKEN == 1 ]] && return 0
  for column in 3:rps 5:p99_ms 6:cpu_us 8:kernel_us; do
    printf 'unbroken/nginx_%s\t%s\n' "${column#*:}" "$(ratios unbroken nginx "${column%%:*}" | median)"
  done
  printf 'unbroken/direct_rps\t%s\n' "$(ratios unbroken direct 3 | median)"
  [[ $FLOORS == 1 ]] || return 0
  for t in vertx netty; do
    for column in 3:rps 5:p99_ms 6:cpu_us; do
      printf '%s/nginx_%s\t%s\n' "$t" "${column#*:}" "$(ratios "$t" nginx "${column%%:*}" | median)"
    done
  done
}

write_rows() {
  [[ -n $ROWS_DIR ]] || return 0
  mkdir -p "$ROWS_DIR"
  { printf 'pair\ttarget\trps\tp50_ms\tp99_ms\tcpu_us\terrors\tkernel_us\n'; cat "$RESULTS"; } >"$ROWS_DIR/pairs.tsv"
  summary_rows >"$ROWS_DIR/summary.tsv"
  log "wrote pairs.tsv and summary.tsv to $ROWS_DIR"
}

# PassthroughSweep against the running nginx proxy and Unbroken (see "Sweep" above), bounded in time.
sweep() {
  [[ -n $SWEEP && $SKIP_UNBROKEN != 1 ]] || return 0
  local cp rows="" rc=0
  [[ -n $ROWS_DIR ]] && rows=$ROWS_DIR/sweep.tsv && rm -f "$rows"
  build_test_classes_if_needed "$ROOT_DIR/target/test-classes/io/unbroken/bench/PassthroughSweep.class" \
    "the sweep program was not compiled"
  test_classpath "$WORK_DIR/classpath.txt"
  cp=$ROOT_DIR/target/test-classes:$ROOT_DIR/target/classes:$(cat "$WORK_DIR/classpath.txt")
  log "sweep at $SWEEP % of nginx's maximum, $SWEEP_DURATION s per run"
  # In the background, so that a signal reaches the trap at once and the trap can stop it.
  timeout --signal=TERM --kill-after=10 $((SWEEP_WARMUP + 30 * (SWEEP_DURATION + 3) + 120)) \
    "$JAVA" -XX:+UseParallelGC -Xms256m -Xmx256m -Dbench.warmup="$SWEEP_WARMUP" -Dbench.duration="$SWEEP_DURATION" \
    -Dbench.connections="$CONNS" -Dbench.sweep="$SWEEP" -Dbench.rows="$rows" \
    -cp "$cp" io.unbroken.bench.PassthroughSweep "$NGINX_PORT" "$UNBROKEN_PORT" &
  SWEEP_PID=$!
  wait "$SWEEP_PID" || rc=$?
  SWEEP_PID=""
  ((rc == 0)) || die "the sweep failed (exit code $rc; 124: it ran out of time)"
}

# ---------------------------------------------------------------------------------------------
# main

main() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  trap 'exit 141' PIPE

  check_jar
  install_tools
  CLK_TCK=$(getconf CLK_TCK)
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/unbroken-bench.XXXXXX")
  chmod 755 "$WORK_DIR" # nginx workers may run as another user than the master
  RESULTS=$WORK_DIR/results.tsv
  : >"$RESULTS"

  local port target
  for port in "$UPSTREAM_PORT" "$NGINX_PORT" $([[ $SKIP_UNBROKEN == 1 ]] || echo "$UNBROKEN_PORT $ADMIN_PORT") \
      $([[ $FLOORS == 1 ]] && echo "$VERTX_FLOOR_PORT $NETTY_FLOOR_PORT"); do
    port_in_use "$port" && die "port $port on 127.0.0.1 is already in use"
  done

  machine_load "start"
  warn_if_busy
  fetch_async_profiler
  start_upstream
  start_proxy
  local targets=(nginx)
  if [[ $SKIP_UNBROKEN == 1 ]]; then
    log "SKIP_UNBROKEN=1: measuring direct and nginx only"
  else
    start_unbroken
    start_floors
    targets=(nginx unbroken)
    [[ $FLOORS == 1 ]] && targets+=(vertx netty)
    for target in "${targets[@]:1}"; do warm_up "$target" "$WARMUP"; done
  fi
  ALL_TARGETS=(direct "${targets[@]}")
  warm_up nginx "$NGINX_WARMUP"
  warm_up direct 2

  local pair i n=${#targets[@]}
  start_profile
  for ((pair = 1; pair <= PAIRS; pair++)); do
    measure "$pair" direct "$DURATION"
    # Each pair starts one target further along, so that none is always measured first.
    for ((i = 0; i < n; i++)); do
      target=${targets[(pair - 1 + i) % n]}
      async_profile start "$target" "$pair"
      measure "$pair" "$target" "$DURATION"
      async_profile stop "$target" "$pair"
    done
    print_pair "$pair"
  done
  stop_profile

  print_summary
  write_rows
  sweep
  echo
  machine_load "end"
}

main "$@"
