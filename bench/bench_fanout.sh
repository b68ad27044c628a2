#!/usr/bin/env bash
# bench_fanout.sh: newRevision push fan-out of bimhub's /stream to N endpoints, next to
# mosquitto delivering same-sized MQTT messages to N WebSocket subscribers. Everything runs on
# 127.0.0.1 and stops by itself.
#
#   bench/bench_fanout.sh
# Environment: BIMHUB_BIN (default build-release/bimhub), FANOUT_NS ("1000 10000"),
# FANOUT_RATE (events/s, 20), FANOUT_EVENTS (200, i.e. 10 s), FANOUT_IDLE (s held idle before
# the events, for the memory reading; 3), FANOUT_IFC (slab-standard-case.ifc of the shared data),
# FANOUT_MQTT (1: also run mosquitto; 0: bimhub only).
#
# One client process, bench/ws_fanout.c, opens the N sockets and also drives the events from a
# second thread, so every time is on one CLOCK_MONOTONIC:
#   bimhub:    an event is one check-in, POST /upload with sync=true (answered once the
#              revision is committed); the N endpoints are registered with
#              registerNewRevisionOnSpecificProjectHandler on the project.
#   mosquitto: an event is one QoS 0 PUBLISH, from its own connection, of a newRevision-shaped
#              JSON padded to the size of bimhub's push frame; N subscribers on one topic.
# Figures per event: last = last endpoint's arrival - request start (what a user waits for);
# spread = last arrival - first arrival (the fan-out proper: bimhub's check-in work is before
# the first arrival, MQTT has none, so compare spreads); first = first arrival - request start.
# frames/s = push frames received by all endpoints / (last push - first push).
# Memory: server VmRSS with the N sockets open, idle and subscribed, minus before; / N.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIMHUB_BIN:-$root/build-release/bimhub}
NS=${FANOUT_NS:-1000 10000}
RATE=${FANOUT_RATE:-20}
EVENTS=${FANOUT_EVENTS:-200}
IDLE=${FANOUT_IDLE:-3}
IFC=${FANOUT_IFC:-$root/../shared/data/ifc/slab-standard-case.ifc}
MQTT=${FANOUT_MQTT:-1}
ADMIN=bench@bimhub.test
ADMIN_PW=bench-secret-1

for tool in curl cc; do
  command -v "$tool" >/dev/null || { echo "bench_fanout.sh: $tool missing" >&2; exit 1; }
done
if [ "$MQTT" = 1 ] && ! command -v mosquitto >/dev/null; then
  echo "bench_fanout.sh: mosquitto missing (apt-get install mosquitto), or set FANOUT_MQTT=0" >&2
  exit 1
fi
[ -x "$BIN" ] || { echo "bench_fanout.sh: no server binary at $BIN (make bench builds it)" >&2; exit 1; }
[ -r "$IFC" ] || { echo "bench_fanout.sh: no IFC file at $IFC" >&2; exit 1; }

work=$(mktemp -d /tmp/bimhub-fanout.XXXXXX)
chmod 755 "$work" # mosquitto drops to its own user and must read its config
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Each socket costs one descriptor in ws_fanout and one in the server.
maxn=0
for n in $NS; do [ "$n" -gt "$maxn" ] && maxn=$n; done
hard=$(ulimit -Hn)
want=$((maxn + 1024))
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  echo "bench_fanout.sh: the hard limit on open files ($hard) is below $want" >&2
  exit 1
fi
ulimit -n "$want"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000)) # below the ephemeral range the 10,000 clients use
    port_free "$p" && { echo "$p"; return 0; }
  done
  return 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime
tck=$(getconf CLK_TCK)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo "== machine"
echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc:     $(nproc)"
echo "cpu:       $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel:    $(uname -srm)"
echo "memory:    $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "bimhub:    $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown), $BIN"
[ "$MQTT" = 1 ] && echo "mosquitto: $(mosquitto -h 2>&1 | head -n1)"
echo "events:    $EVENTS at $RATE/s, $(basename "$IFC") ($(stat -c %s "$IFC") bytes); N = $NS"

cc -std=c17 -O2 -Wall -pthread -o "$work/ws_fanout" "$root/bench/ws_fanout.c"
seconds=$(awk -v e="$EVENTS" -v r="$RATE" 'BEGIN { printf "%d", e / r + 1 }')

declare -A ROW
# run_fanout LABEL SERVER_PID ARGS...: runs ws_fanout, prints its output, fills ROW[LABEL].
run_fanout() {
  local label=$1 spid=$2 n=$3
  shift 3
  local out="$work/fanout.out" err="$work/fanout.err"
  echo
  echo "== $label"
  echo "\$ $work/ws_fanout $*"
  local rss0 rss1
  rss0=$(rss_kib "$spid")
  "$work/ws_fanout" "$@" >"$out" 2>"$err" &
  local fpid=$!
  pids+=("$fpid")
  local ready=
  for _ in $(seq 1500); do
    ready=$(grep '^READY' "$out" || true)
    [ -n "$ready" ] && break
    kill -0 "$fpid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "ws_fanout did not get ready:"; cat "$out" "$err"
    kill "$fpid" 2>/dev/null || true
    ROW[$label]="$n FAILED"
    return 0
  fi
  sleep "$(awk -v i="$IDLE" 'BEGIN { print i / 2 }')" # idle, halfway through --idle
  rss1=$(rss_kib "$spid")
  local cpu0 cpu1
  cpu0=$(cpu_ticks "$spid")
  local rc=0
  wait "$fpid" || rc=$?
  cpu1=$(cpu_ticks "$spid")
  grep -v '^EVENT' "$out" || true
  head -n 5 "$err"
  grep '^EVENT' "$out" | head -n 3 || true
  local srv_cpu
  srv_cpu=$(awk -v a="$cpu1" -v b="$cpu0" -v t="$tck" 'BEGIN { printf "%.2f", (a - b) / t }')
  echo "server VmRSS: before $rss0 KiB, with $n idle subscribed sockets $rss1 KiB," \
    "after the run $(rss_kib "$spid") KiB; server CPU during the run ${srv_cpu} s;" \
    "ws_fanout exit code $rc"
  local s
  s=$(grep '^SUMMARY' "$out" || true)
  [ -n "$s" ] || { ROW[$label]="$n FAILED"; return 0; }
  ROW[$label]=$(printf '%s %s/%s %s/%s %s/%s %s/%s %s %s %s/%s/%s' "$n" \
    "$(field delivered_events "$s")" "$(field events "$s")" \
    "$(field last_p50_ms "$s")" "$(field last_p99_ms "$s")" \
    "$(field spread_p50_ms "$s")" "$(field spread_p99_ms "$s")" \
    "$(field first_p50_ms "$s")" "$(field first_p99_ms "$s")" \
    "$(field frames_per_s "$s")" \
    "$(awk -v a="$rss1" -v b="$rss0" -v n="$n" 'BEGIN { printf "%.2f", (a - b) / n }')" \
    "$srv_cpu" "$(field client_cpu_s "$s")" "$(field run_s "$s")")
  PUSH_BYTES=$(field push_bytes "$s")
}

# --- bimhub (a fresh server per N: closed endpoints are kept for resume) -------------------
PUSH_BYTES=0
for n in $NS; do
  rm -rf "$work/data"
  mkdir -p "$work/data"
  # All N endpoints belong to the one bench user: lift the per-user endpoint cap (1000);
  # all N sockets come from 127.0.0.1: lift the per-address connection limit (256).
  "$BIN" serve --host 127.0.0.1 --port 0 --data-dir "$work/data" --admin-user "$ADMIN" \
    --admin-password "$ADMIN_PW" --log-level warn --max-endpoints-per-user $((n + 100)) \
    --http-per-ip-connection-limit 0 \
    >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  pids+=("$server_pid")
  echo
  echo "\$ $BIN serve --host 127.0.0.1 --port 0 --data-dir $work/data --admin-user $ADMIN" \
    "--admin-password '$ADMIN_PW' --log-level warn --max-endpoints-per-user $((n + 100))" \
    "--http-per-ip-connection-limit 0"
  url=
  for _ in $(seq 200); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$work/server.out" 2>/dev/null | cut -d' ' -f3 || true)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "bimhub did not start:"; cat "$work/server.err"; exit 1; }
  port=${url##*:}
  rpc() { curl -sS --max-time 10 -X POST -H 'Content-Type: application/json' --data-binary "$1" "$url/json"; }
  token=$(rpc '{"request":{"interface":"AuthInterface","method":"login","parameters":{"username":"'$ADMIN'","password":"'$ADMIN_PW'"}}}' |
    sed -n 's/.*"result":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "login failed"; exit 1; }
  poid=$(rpc '{"request":{"interface":"ServiceInterface","method":"addProject","parameters":{"projectName":"fanout","schema":"ifc4"}},"token":"'$token'"}' |
    sed -n 's/.*"oid":\([0-9]*\).*/\1/p')
  des=$(rpc '{"request":{"interface":"ServiceInterface","method":"getSuggestedDeserializerForExtension","parameters":{"extension":"ifc","poid":'$poid'}},"token":"'$token'"}' |
    sed -n 's/.*"oid":\([0-9]*\).*/\1/p')
  [ -n "$poid" ] && [ -n "$des" ] || { echo "no project ($poid) or deserializer ($des)"; exit 1; }
  run_fanout "bimhub N=$n" "$server_pid" "$n" 127.0.0.1 "$port" "$n" "$token" "$poid" "$seconds" \
    --idle "$IDLE" --events "$EVENTS" --rate "$RATE" --checkin "$IFC" --deserializer "$des" --drain 15 --quiet
  kill -0 "$server_pid" 2>/dev/null || echo "WARNING: bimhub died; stderr: $(tail -n 20 "$work/server.err")"
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
done
[ "${PUSH_BYTES:-0}" -gt 0 ] 2>/dev/null || PUSH_BYTES=110

# --- mosquitto -----------------------------------------------------------------------------
if [ "$MQTT" = 1 ]; then
  for n in $NS; do
    mport=$(free_port)
    tport=$(free_port)
    while [ "$tport" = "$mport" ]; do tport=$(free_port); done
    # mosquitto 2.0.11 refuses to start with only websockets listeners ("Unable to start any
    # listening sockets"), hence a plain MQTT listener beside it, unused; and its
    # libwebsockets cannot listen here unless told IPv4 (socket_domain).
    cat >"$work/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
max_queued_messages 1000000
max_inflight_messages 0
set_tcp_nodelay true
listener $mport 127.0.0.1
socket_domain ipv4
protocol websockets
max_connections -1
listener $tport 127.0.0.1
protocol mqtt
EOF
    chmod 644 "$work/mosquitto.conf"
    echo
    echo "\$ mosquitto -c $work/mosquitto.conf"
    mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.out" 2>&1 &
    mpid=$!
    pids+=("$mpid")
    for _ in $(seq 50); do
      port_free "$mport" || break
      kill -0 "$mpid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$mpid" 2>/dev/null || { echo "mosquitto did not start:"; cat "$work/mosquitto.out"; exit 1; }
    sed 's/^/    /' "$work/mosquitto.conf"
    run_fanout "mosquitto N=$n" "$mpid" "$n" 127.0.0.1 "$mport" "$n" - 1 "$seconds" --mqtt \
      --idle "$IDLE" --events "$EVENTS" --rate "$RATE" --size "$PUSH_BYTES" --drain 15 --quiet
    kill "$mpid" 2>/dev/null || true
    wait "$mpid" 2>/dev/null || true
  done
fi

# --- summary -------------------------------------------------------------------------------
echo
echo "== summary ($EVENTS events at $RATE/s; times in ms: p50/p99 over the events; push payload $PUSH_BYTES bytes)"
printf '%-10s %6s %8s %21s %21s %21s %9s %10s %18s\n' run N events "last ms p50/p99" \
  "spread ms p50/p99" "first ms p50/p99" "frames/s" "KiB/socket" "CPU s srv/cli/wall"
for label in $(for n in $NS; do echo "bimhub_N=$n"; done; [ "$MQTT" = 1 ] && for n in $NS; do echo "mosquitto_N=$n"; done); do
  l=${label//_/ }
  r=${ROW[$l]:-}
  [ -n "$r" ] || continue
  # shellcheck disable=SC2086
  printf '%-10s %6s %8s %21s %21s %21s %9s %10s %18s\n' "${l% N=*}" $r
done
echo "last = last endpoint's arrival - request start (bimhub: includes the check-in itself);"
echo "spread = last - first arrival (the fan-out); first = first arrival - request start;"
echo "frames/s = push frames received / (last push - first push); KiB/socket = server VmRSS"
echo "growth with the N sockets open and subscribed, idle, / N; CPU = server and client CPU"
echo "seconds (user+sys) and wall seconds of the event phase. Server and client share $(nproc) CPUs."
