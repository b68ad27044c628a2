#!/usr/bin/env bash
# bench_http.sh: request rate and latency of bimhub's /json against nginx serving the same
# bytes, then the same again while 10,000 idle /stream WebSockets are open. Everything runs
# on 127.0.0.1 and stops by itself.
#
#   bench/bench_http.sh            (make bench builds build-release/ and calls this)
# Environment: BIMHUB_BIN (default build-release/bimhub), BENCH_DURATION (s, default 5),
# BENCH_ROUNDS (3), BENCH_THREADS (2), BENCH_CONNS (50), BENCH_IDLE_WS (10000).
#
# Output: for each run the exact command, then requests/s, p50 and p99; a summary at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIMHUB_BIN:-$root/build-release/bimhub}
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-50}
IDLE=${BENCH_IDLE_WS:-10000}
ADMIN=bench@bimhub.test
ADMIN_PW=bench-secret-1

for tool in wrk nginx curl cc; do
  command -v "$tool" >/dev/null || { echo "bench_http.sh: $tool missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench_http.sh: no server binary at $BIN (make bench builds it)" >&2; exit 1; }

work=$(mktemp -d /tmp/bimhub-bench.XXXXXX)
chmod 755 "$work" # nginx workers run as nobody and must read $work/www
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Each idle socket costs one descriptor here (idle_ws) and one in the server.
hard=$(ulimit -Hn)
want=$((IDLE + 1024))
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  IDLE=$((hard - 1024))
  echo "note: hard limit on open files is $hard; holding $IDLE idle sockets instead"
  want=$hard
fi
ulimit -n "$want"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    port_free "$p" && { echo "$p"; return 0; }
  done
  return 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- bimhub -------------------------------------------------------------------------------
mkdir -p "$work/data"
# The idle sockets and the load all come from 127.0.0.1: no per-address connection limit.
"$BIN" serve --host 127.0.0.1 --port 0 --data-dir "$work/data" --admin-user "$ADMIN" \
  --admin-password "$ADMIN_PW" --log-level warn --http-per-ip-connection-limit 0 \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
pids+=("$server_pid")
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
login_req='{"request":{"interface":"AuthInterface","method":"login","parameters":{"username":"'$ADMIN'","password":"'$ADMIN_PW'"}}}'
token=$(rpc "$login_req" | sed -n 's/.*"result":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "login failed"; exit 1; }
for i in 1 2 3; do
  rpc '{"request":{"interface":"ServiceInterface","method":"addProject","parameters":{"projectName":"bench-'$i'","schema":"ifc2x3tc1"}},"token":"'$token'"}' >/dev/null
done
info_req='{"request":{"interface":"AdminInterface","method":"getServerInfo","parameters":{}}}'
projects_req='{"request":{"interface":"ServiceInterface","method":"getAllProjects","parameters":{"onlyTopLevel":false,"onlyActive":true}},"token":"'$token'"}'

# --- nginx serving getServerInfo's reply body as a static file ------------------------------
mkdir -p "$work/www" "$work/nginx/logs" "$work/nginx/tmp"
rpc "$info_req" >"$work/www/serverinfo.json"
chmod 644 "$work/www/serverinfo.json"
nginx_port=
for _ in 1 2 3 4 5; do
  p=$(free_port)
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  default_type application/json;
  server {
    listen 127.0.0.1:$p;
    root $work/www;
    # The same bytes as a response to the same POST: nginx reads the body and answers.
    location = /json { return 200 '$(cat "$work/www/serverinfo.json")'; }
  }
}
EOF
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>>"$work/nginx/logs/start.log" &
  ngx_pid=$!
  for _ in $(seq 50); do
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/serverinfo.json"; then nginx_port=$p; break; fi
    kill -0 "$ngx_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$nginx_port" ]; then pids+=("$ngx_pid"); break; fi
  kill "$ngx_pid" 2>/dev/null || true
  wait "$ngx_pid" 2>/dev/null || true
done
[ -n "$nginx_port" ] || { echo "nginx did not start:"; cat "$work/nginx/logs/"*; exit 1; }
nginx_url="http://127.0.0.1:$nginx_port/serverinfo.json"
cmp -s "$work/www/serverinfo.json" <(curl -s -d "$info_req" "http://127.0.0.1:$nginx_port/json") ||
  { echo "nginx's POST /json serves other bytes"; exit 1; }
cmp -s "$work/www/serverinfo.json" <(curl -s "$nginx_url") || { echo "nginx serves other bytes"; exit 1; }

# --- wrk -------------------------------------------------------------------------------------
declare -A RPS P99
run_wrk() { # name method body url
  local name=$1 method=$2 body=$3 target=$4 out
  local cmd=(wrk "-t$THREADS" "-c$CONNS" "-d${DURATION}s" --latency -s "$root/bench/wrk_json.lua" "$target")
  echo
  echo "== $name"
  if [ "$method" = POST ]; then
    echo "\$ BENCH_METHOD=POST BENCH_BODY='$body' ${cmd[*]}"
  else
    echo "\$ BENCH_METHOD=GET ${cmd[*]}"
  fi
  out=$(BENCH_METHOD=$method BENCH_BODY=$body "${cmd[@]}")
  echo "$out" | sed -n '/Latency Distribution/,/^ *99%/p;/Requests\/sec/p;/Non-2xx/p;/Socket errors/p'
  local line
  line=$(echo "$out" | grep '^BENCH ')
  echo "$line"
  # Each run appends: the summary takes the median over the rounds.
  RPS[$name]+=" $(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")"
  P99[$name]+=" $(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line")"
  if ! grep -q 'errors=0 non2xx=0' <<<"$line"; then echo "WARNING: $name had errors: $line"; fi
}

rss_start=$(rss_kib "$server_pid")
echo
echo "(nginx answers the same POST /json with the same $(stat -c %s "$work/www/serverinfo.json") bytes as a static"
echo " 'return 200' response; and, for reference, a GET of a file with those bytes)"
# The machine is shared and noisy: the runs are interleaved in $ROUNDS rounds and the
# summary compares medians measured side by side.
for round in $(seq "$ROUNDS"); do
  echo
  echo "-- round $round of $ROUNDS"
  run_wrk "bimhub getServerInfo" POST "$info_req" "$url/json"
  run_wrk "bimhub getAllProjects (token, 3 projects)" POST "$projects_req" "$url/json"
  run_wrk "nginx static response (POST /json)" POST "$info_req" "http://127.0.0.1:$nginx_port/json"
  run_wrk "nginx static file (GET)" GET "" "$nginx_url"
done
rss_busy=$(rss_kib "$server_pid")

# --- 10,000 idle /stream sockets -------------------------------------------------------------
cc -std=c17 -O2 -Wall -o "$work/idle_ws" "$root/bench/idle_ws.c"
hold=$((DURATION + 60))
echo
echo "== $IDLE idle /stream WebSockets"
echo "\$ $work/idle_ws 127.0.0.1 $port $IDLE $hold"
"$work/idle_ws" 127.0.0.1 "$port" "$IDLE" "$hold" >"$work/idle.out" 2>"$work/idle.err" &
idle_pid=$!
pids+=("$idle_pid")
for _ in $(seq 1300); do
  grep -q '^READY' "$work/idle.out" && break
  kill -0 "$idle_pid" 2>/dev/null || break
  sleep 0.1
done
ready=$(grep '^READY' "$work/idle.out" || true)
[ -n "$ready" ] || { echo "idle_ws did not get ready:"; cat "$work/idle.err"; exit 1; }
echo "$ready"
head -n 5 "$work/idle.err"
rss_idle=$(rss_kib "$server_pid")
for round in $(seq "$ROUNDS"); do
  echo
  echo "-- round $round of $ROUNDS, with $IDLE idle sockets"
  run_wrk "bimhub getServerInfo with $IDLE idle sockets" POST "$info_req" "$url/json"
  run_wrk "nginx static response (POST /json), same phase" POST "$info_req" "http://127.0.0.1:$nginx_port/json"
done
rss_idle_busy=$(rss_kib "$server_pid")
kill "$idle_pid" 2>/dev/null || true
wait "$idle_pid" 2>/dev/null || true
alive=yes
kill -0 "$server_pid" 2>/dev/null || alive=no

# --- summary ---------------------------------------------------------------------------------
base="bimhub getServerInfo"
ngx="nginx static response (POST /json)"
idle_name="bimhub getServerInfo with $IDLE idle sockets"
ngx_idle="nginx static response (POST /json), same phase"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "== summary (wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, 127.0.0.1; medians of $ROUNDS interleaved rounds)"
printf '%-56s %12s %10s %10s\n' run "requests/s" "p99 ms" "vs nginx"
row() { # name reference
  printf '%-56s %12s %10s %10s\n' "$1" "$(median "${RPS[$1]}")" "$(median "${P99[$1]}")" \
    "$(ratio "$(median "${RPS[$1]}")" "$(median "${RPS[$2]}")")"
}
row "$base" "$ngx"
row "bimhub getAllProjects (token, 3 projects)" "$ngx"
row "$ngx" "$ngx"
row "nginx static file (GET)" "$ngx"
row "$idle_name" "$ngx_idle"
row "$ngx_idle" "$ngx_idle"
echo "getServerInfo with idle sockets / without: $(ratio "$(median "${RPS[$idle_name]}")" "$(median "${RPS[$base]}")")"
echo "server RSS (VmRSS, KiB): start $rss_start, after the wrk runs $rss_busy, with $IDLE idle sockets $rss_idle, after wrk with them $rss_idle_busy"
awk -v a="$rss_idle" -v b="$rss_busy" -v n="$IDLE" 'BEGIN { if (n > 0) printf "per idle socket: %.1f KiB\n", (a - b) / n }'
echo "server alive at the end: $alive"
[ "$alive" = yes ]
