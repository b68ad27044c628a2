#!/usr/bin/env bash
# bench_deliver.sh: durable service notifications. bimhub POSTs every notification to a
# local sink (bench/deliver_sink.c, libmicrohttpd, keep-alive, answers 200 at once and keeps
# the webhook-id and arrival time of each request). Everything runs on 127.0.0.1 and stops by
# itself. In one run:
#   a. the sink's ceiling: wrk POSTing the exact body and headers of a notification;
#   b. durable deliveries/s: with bimhub stopped, P pending rows are written straight into its
#      deliveries table (sqlite3, recursive CTE) for S services; bimhub is started and the time
#      from the first to the last arrival at the sink gives the rate; afterwards the store must
#      say every row is delivered, with one attempt each, and the sink must have seen each
#      webhook-id once. For each S:mode of DELIVER_CONFIGS (mode parallel: setDeliveryOptions
#      parallel=true, written into services.options; ordered: one at a time per service);
#   c. a restart with DELIVER_RESUME pending: time from the process start to the first
#      arrival, to 10 % and to all;
#   d. commit-to-first-byte: a Node driver calls ServiceInterface.triggerNewRevision at
#      DELIVER_RATE calls/s for DELIVER_LAT_SECONDS over keep-alive; each arrival is joined
#      with deliveries.created_ms of its id (webhook-id msg_<tag>_<id>): p50/p99/max;
#   e. idle VmRSS of bimhub started on a data dir with the services registered, nothing
#      pending.
#
#   bench/bench_deliver.sh         (make bench builds build-release/ and calls bench/run.sh)
# Environment: BIMHUB_BIN (default build-release/bimhub), DELIVER_PENDING (200000),
# DELIVER_CONFIGS ("8:parallel 8:ordered 64:parallel 64:ordered"), DELIVER_RESUME (1000000),
# DELIVER_RESUME_CONFIG (8:parallel), DELIVER_RATE (1000), DELIVER_LAT_SECONDS (10),
# DELIVER_LAT_CONFIG (8:ordered), DELIVER_WRK_SECONDS (10), DELIVER_WRK_CONNS (64),
# SINK_THREADS (nproc), DELIVER_SERVER_ARGS (extra bimhub flags, e.g. "--sqlite-synchronous
# normal"; default none: the server's defaults), DELIVER_TIMEOUT (s a phase may take, 900),
# DELIVER_IFC (duplex.ifc of the shared data), DELIVER_KEEP (1: keep the work dir).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIMHUB_BIN:-$root/build-release/bimhub}
PENDING=${DELIVER_PENDING:-200000}
CONFIGS=${DELIVER_CONFIGS:-8:parallel 8:ordered 64:parallel 64:ordered}
RESUME=${DELIVER_RESUME:-1000000}
RESUME_CONFIG=${DELIVER_RESUME_CONFIG:-8:parallel}
RATE=${DELIVER_RATE:-1000}
LAT_SECONDS=${DELIVER_LAT_SECONDS:-10}
LAT_CONFIG=${DELIVER_LAT_CONFIG:-8:ordered}
WRK_SECONDS=${DELIVER_WRK_SECONDS:-10}
WRK_CONNS=${DELIVER_WRK_CONNS:-64}
SINK_THREADS=${SINK_THREADS:-$(nproc)}
SERVER_ARGS=${DELIVER_SERVER_ARGS:-}
TIMEOUT=${DELIVER_TIMEOUT:-900}
IFC=${DELIVER_IFC:-$root/../shared/data/ifc/duplex.ifc}
KEEP=${DELIVER_KEEP:-0}
ADMIN=bench@bimhub.test
ADMIN_PW=bench-secret-1

for tool in wrk curl cc sqlite3 node pkg-config; do
  command -v "$tool" >/dev/null ||
    { echo "bench_deliver.sh: $tool missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
pkg-config --exists libmicrohttpd || { echo "bench_deliver.sh: libmicrohttpd-dev missing" >&2; exit 1; }
[ -x "$BIN" ] || { echo "bench_deliver.sh: no server binary at $BIN (make bench builds it)" >&2; exit 1; }
[ -r "$IFC" ] || { echo "bench_deliver.sh: no IFC file at $IFC" >&2; exit 1; }
maxs=0
for c in $CONFIGS $RESUME_CONFIG $LAT_CONFIG; do
  s=${c%%:*}
  case "${c#*:}" in parallel | ordered) ;; *) echo "bench_deliver.sh: bad config $c (S:parallel or S:ordered)" >&2; exit 2 ;; esac
  [ "$s" -ge 1 ] 2>/dev/null || { echo "bench_deliver.sh: bad config $c" >&2; exit 2; }
  [ "$s" -gt "$maxs" ] && maxs=$s
done

work=$(mktemp -d /tmp/bimhub-deliver.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
want=$((maxs * 64 + 4096))
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && want=$hard
ulimit -n "$want"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    port_free "$p" && { echo "$p"; return 0; }
  done
  return 1
}
now_us() { date +%s%6N; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$1/stat"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
# ms between two µs stamps, one decimal
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

echo "== machine"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc:   $(nproc)"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel:  $(uname -srm)"
echo "memory:  $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "disk:    $(df -h "$work" | awk 'NR == 2 {print $1 " (" $2 ")"}') for the data dirs in $work"
echo "bimhub:  $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown), $BIN"
echo "sqlite3: $(sqlite3 --version | cut -d' ' -f1), libmicrohttpd $(pkg-config --modversion libmicrohttpd), node $(node --version)"
echo "server:  default options${SERVER_ARGS:+ plus $SERVER_ARGS}; sink threads $SINK_THREADS"
# other work on the machine skews everything here: say so
cpu_busy() { # % of all CPUs busy over 1 s
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}
busy=$(cpu_busy)
echo "load:    ${busy}% of the CPUs busy before the start; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$busy" -le 10 ] || echo "WARNING: the machine is not idle (${busy}% busy): the figures below are skewed"

sink=$work/deliver_sink
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c17 -O2 -Wall -pthread -o "$sink" "$root/bench/deliver_sink.c" \
  $(pkg-config --cflags --libs libmicrohttpd)
SINK_PORT=$(free_port)

# ---- processes ----------------------------------------------------------------------------
# start_sink NAME [--count N] [--out FILE]: sink_pid, sink_out
start_sink() {
  local name=$1
  shift
  sink_out=$work/$name.sink.out
  "$sink" "$SINK_PORT" --threads "$SINK_THREADS" --progress "$@" >"$sink_out" 2>&1 &
  sink_pid=$!
  pids+=("$sink_pid")
  for _ in $(seq 100); do
    grep -q '^READY' "$sink_out" && return 0
    kill -0 "$sink_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "the sink did not start:"; cat "$sink_out"; exit 1
}
stop_sink() {
  kill "$sink_pid" 2>/dev/null || true
  wait "$sink_pid" 2>/dev/null || true
}
sink_count() { grep '^PROGRESS' "$sink_out" | tail -n 1 | cut -d' ' -f2; }

# start_server DATADIR: server_pid, url, t_start (µs, just before the exec)
start_server() {
  local data=$1
  t_start=$(now_us)
  # shellcheck disable=SC2086
  "$BIN" serve --host 127.0.0.1 --port 0 --data-dir "$data" --admin-user "$ADMIN" \
    --admin-password "$ADMIN_PW" --log-level warn $SERVER_ARGS \
    >"$work/server.out" 2>>"$work/server.err" &
  server_pid=$!
  pids+=("$server_pid")
  url=
  for _ in $(seq 600); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$work/server.out" 2>/dev/null | cut -d' ' -f3 || true)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "bimhub did not start:"; tail -n 20 "$work/server.err"; exit 1; }
  t_listen=$(now_us)
}
stop_server() {
  local t0
  t0=$(now_us)
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 600); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "WARNING: bimhub did not stop within 30 s of SIGTERM; killing it"
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  stop_ms=$(ms "$t0" "$(now_us)")
}
rpc() { curl -sS --max-time 30 -X POST -H 'Content-Type: application/json' --data-binary "$1" "$url/json"; }
call() { # interface method params-json
  rpc '{"token":"'"$token"'","request":{"interface":"'"$1"'","method":"'"$2"'","parameters":'"$3"'}}'
}
login() {
  token=$(rpc '{"request":{"interface":"AuthInterface","method":"login","parameters":{"username":"'$ADMIN'","password":"'$ADMIN_PW'"}}}' |
    sed -n 's/.*"result":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "login failed"; exit 1; }
}
pending_of() { # soids...: the sum of pending deliveries the server reports
  local sum=0 s n
  for s in "$@"; do
    n=$(call DeliveryInterface getServiceHealth '{"soid":'"$s"'}' | sed -n 's/.*"pending":\([0-9]*\).*/\1/p')
    sum=$((sum + ${n:-999999999}))
  done
  echo "$sum"
}

# ---- setup ------------------------------------------------------------------------------------
# The template: one project, one check-in, maxs services at the sink, nothing pending.
echo
echo "== setup: a data dir with one project, one revision and $maxs services (url http://127.0.0.1:$SINK_PORT)"
tmpl=$work/template
mkdir -p "$tmpl"
start_server "$tmpl"
login
poid=$(call ServiceInterface addProject '{"projectName":"deliver","schema":"ifc2x3tc1"}' | sed -n 's/.*"oid":\([0-9]*\).*/\1/p')
des=$(call ServiceInterface getSuggestedDeserializerForExtension '{"extension":"ifc","poid":'"$poid"'}' | sed -n 's/.*"oid":\([0-9]*\).*/\1/p')
{ [ -n "$poid" ] && [ -n "$des" ]; } || { echo "no project ($poid) or deserializer ($des)"; exit 1; }
up=$(curl -sS --max-time 120 -F "token=$token" -F "poid=$poid" -F "deserializerOid=$des" -F comment=bench \
  -F sync=true -F "file=@$IFC" "$url/upload")
roid=$(sed -n 's/.*"roid":\([0-9]*\).*/\1/p' <<<"$up")
{ [ -n "$roid" ] && [ "$roid" -gt 0 ]; } || { echo "check-in failed: $up"; exit 1; }
SOIDS=()
for i in $(seq "$maxs"); do
  svc='{"__type":"SService","name":"sink'$i'","serviceName":"sink","serviceIdentifier":"sink","providerName":"bench","url":"http://127.0.0.1:'$SINK_PORT'","token":"x","notificationProtocol":"JSON","description":"","trigger":"NEW_REVISION","readRevision":true,"readExtendedDataId":-1,"writeRevisionId":-1,"writeExtendedDataId":-1,"profileIdentifier":"default","profileName":"Default","profileDescription":"","profilePublic":true}'
  soid=$(call ServiceInterface addServiceToProject '{"poid":'"$poid"',"sService":'"$svc"'}' | sed -n 's/.*"result":\([0-9]*\).*/\1/p')
  [ -n "$soid" ] || { echo "addServiceToProject failed"; exit 1; }
  SOIDS+=("$soid")
done
echo "project $poid, revision $roid ($(basename "$IFC")), services ${SOIDS[0]}..${SOIDS[$((maxs - 1))]}"
api_url=$url
stop_server

# ---- a. the sink's ceiling --------------------------------------------------------------------
echo
echo "== a. the sink's ceiling: wrk, keep-alive, the body and headers of a notification"
# the body and headers a delivery carries (its token is 64 hex digits, its signature 32 bytes)
body='{"request":{"interface":"RemoteServiceInterface","method":"newRevision","parameters":{"poid":'$poid',"roid":'$roid',"soid":'${SOIDS[0]}',"serviceIdentifier":"sink","profileIdentifier":"default","userToken":"x","token":"9ba6a4e3e3eccd7ba1efdfd439abc934d68dc1504ac6e1aaf1efe77f25ef95fa","apiUrl":"'$api_url'"}}}'
cat >"$work/notify.lua" <<EOF
-- one notification as bimhub sends it (curl adds Host, Accept, Content-Length likewise)
wrk.method = "POST"
wrk.body = [[$body]]
wrk.headers["User-Agent"] = "bimhub/bench"
wrk.headers["Accept"] = "*/*"
wrk.headers["Content-Type"] = "application/json; charset=UTF-8"
wrk.headers["webhook-id"] = "msg_119ae8bea63a_1"
wrk.headers["webhook-timestamp"] = "$(date +%s)"
wrk.headers["webhook-signature"] = "v1,KKwRVCkbrBWAE147fsVJ/sALr5f6ePzbMxg4jk6sPIE="
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end
EOF
start_sink wrk
wrk_threads=$(nproc)
[ "$wrk_threads" -gt 4 ] && wrk_threads=4
echo "\$ $sink $SINK_PORT --threads $SINK_THREADS"
echo "\$ wrk -t$wrk_threads -c$WRK_CONNS -d${WRK_SECONDS}s --latency -s notify.lua http://127.0.0.1:$SINK_PORT/json   (body ${#body} bytes)"
wout=$(wrk "-t$wrk_threads" "-c$WRK_CONNS" "-d${WRK_SECONDS}s" --latency -s "$work/notify.lua" "http://127.0.0.1:$SINK_PORT/json")
stop_sink
echo "$wout" | sed -n '/Requests\/sec/p;/Non-2xx/p;/Socket errors/p;/^WRK/p'
grep '^SINK' "$sink_out" || true
WRK_LINE=$(grep '^WRK' <<<"$wout")
CEILING=$(field rps "$WRK_LINE")

# ---- b, c. pending rows written while bimhub is stopped -------------------------------------
# prepare_dir DIR S MODE P: a copy of the template with P pending rows for its first S services
prepare_dir() {
  local dir=$1 s=$2 mode=$3 p=$4 par=false now
  [ "$mode" = parallel ] && par=true
  rm -rf "$dir"
  cp -a "$tmpl" "$dir"
  now=$(($(now_us) / 1000))
  sqlite3 "$dir/bimhub.db" "UPDATE services SET options = '{\"bimsie1Interface\":false,\"parallel\":$par}'"
  [ "$p" -gt 0 ] || return 0
  sqlite3 "$dir/bimhub.db" <<SQL
CREATE TEMP TABLE s(k INTEGER PRIMARY KEY, soid INTEGER NOT NULL);
INSERT INTO s SELECT row_number() OVER (ORDER BY soid) - 1, soid FROM services WHERE state = 0
  ORDER BY soid LIMIT $s;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $p - 1)
INSERT INTO deliveries(soid, method, poid, roid, edid, created_ms, state, attempts, next_ms)
  SELECT (SELECT soid FROM s WHERE k = c.i % $s), 'newRevision', $poid, $roid, -1, $now, 0, 0, $now
  FROM c;
SQL
}
# settle: the dirty pages of the previous run and of the rows just written reach the disk
# now, not during the next measurement (they slow its fdatasyncs)
settle() { sync; sleep 1; }

# check_db DIR P: every row delivered once; sets CHECK (ok/FAIL text)
check_db() {
  local dir=$1 p=$2 r
  r=$(sqlite3 -separator ' ' "$dir/bimhub.db" \
    "SELECT count(*), coalesce(sum(state = 1 AND attempts = 1), 0), coalesce(sum(state = 0), 0),
            coalesce(sum(state = 2), 0) FROM deliveries;
     SELECT count(*), count(DISTINCT delivery), coalesce(sum(ok), 0) FROM delivery_attempts;" | tr '\n' ' ')
  read -r rows delivered pend failed att attd attok <<<"$r"
  if [ "$rows" = "$p" ] && [ "$delivered" = "$p" ] && [ "$att" = "$p" ] && [ "$attd" = "$p" ] && [ "$attok" = "$p" ]; then
    CHECK="ok"
  else
    CHECK="FAIL"
  fi
  echo "store: $rows rows, $delivered delivered with 1 attempt, $pend pending, $failed failed;" \
    "attempts: $att rows for $attd deliveries, $attok ok -> $CHECK"
}

declare -A ROW
# run_pending LABEL S MODE P: prints details, fills ROW[LABEL] and RES_* of the run
run_pending() {
  local label=$1 s=$2 mode=$3 p=$4 dir=$work/run
  echo
  echo "== $label: $p pending rows for $s services ($mode), bimhub started on them"
  local t0
  t0=$(now_us)
  prepare_dir "$dir" "$s" "$mode" "$p"
  echo "sqlite3: $p rows written in $(ms "$t0" "$(now_us)") ms"
  settle
  start_sink "$label" --count "$p" --out "$work/$label.arrivals"
  start_server "$dir"
  echo "\$ $BIN serve --host 127.0.0.1 --port 0 --data-dir $dir --admin-user $ADMIN --admin-password '$ADMIN_PW' --log-level warn $SERVER_ARGS"
  local deadline=$(($(date +%s) + TIMEOUT)) done=0 last_n=-1 stall=0
  while [ "$(date +%s)" -lt "$deadline" ]; do
    grep -q '^DONE' "$sink_out" && { done=1; break; }
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
    # 60 s without a single arrival: stuck
    local n
    n=$(sink_count)
    if [ "${n:-0}" = "$last_n" ]; then
      stall=$((stall + 1))
      [ $stall -ge 300 ] && { echo "no arrival for 60 s"; break; }
    else
      stall=0
      last_n=${n:-0}
    fi
  done
  local t_end
  t_end=$(now_us)
  local sl
  sl=$(grep '^SINK' "$sink_out" || true)
  if [ "$done" != 1 ]; then
    echo "FAILED: the sink got $(sink_count) of $p within $(ms "$t0" "$t_end") ms"
    tail -n 20 "$work/server.err"
  fi
  # the last answers are recorded a moment after the sink sent them: wait for pending 0
  local left=-1
  if kill -0 "$server_pid" 2>/dev/null; then
    login
    local ids=("${SOIDS[@]:0:$s}")
    for _ in $(seq 150); do
      left=$(pending_of "${ids[@]}")
      [ "$left" = 0 ] && break
      sleep 0.2
    done
  fi
  local hwm cpu wchar
  hwm=$(hwm_kib "$server_pid" 2>/dev/null || echo 0)
  cpu=$(cpu_s "$server_pid" 2>/dev/null || echo 0)
  wchar=$(awk '/^wchar:/ {print $2}' "/proc/$server_pid/io" 2>/dev/null || echo 0)
  stop_server
  stop_sink
  [ -n "$sl" ] || sl=$(grep '^SINK' "$sink_out" || true)
  echo "$sl"
  check_db "$dir" "$p"
  local first last p10 dup uniq
  first=$(field first_us "$sl")
  last=$(field last_us "$sl")
  p10=$(field p10_us "$sl")
  dup=$(field dup "$sl")
  uniq=$(field unique "$sl")
  RES_START_FIRST=$(ms "$t_start" "$first")
  RES_START_P10=$(ms "$t_start" "$p10")
  RES_START_ALL=$(ms "$t_start" "$last")
  RES_LISTEN=$(ms "$t_start" "$t_listen")
  RES_RATE=$(awk -v n="$uniq" -v a="$first" -v b="$last" 'BEGIN { if (b > a) printf "%.0f", n / ((b - a) / 1e6); else print 0 }')
  local rate_start
  rate_start=$(awk -v n="$uniq" -v a="$t_start" -v b="$last" 'BEGIN { if (b > a) printf "%.0f", n / ((b - a) / 1e6); else print 0 }')
  local ratio
  ratio=$(awk -v r="$RES_RATE" -v c="${CEILING:-0}" 'BEGIN { if (c > 0) printf "%.2f", r / c; else print "-" }')
  echo "start -> listening $RES_LISTEN ms, -> first arrival $RES_START_FIRST ms, -> 10 % $RES_START_P10 ms," \
    "-> all $RES_START_ALL ms; first -> last arrival: $RES_RATE deliveries/s ($rate_start/s from the start);" \
    "sink: $uniq unique webhook-ids, $dup duplicates; server: CPU $cpu s, VmHWM $hwm KiB," \
    "written $((${wchar:-0} / 1048576)) MiB (sockets + files), stop $stop_ms ms"
  local kbd
  kbd=$(awk -v w="${wchar:-0}" -v p="$p" 'BEGIN { printf "%.1f", w / p / 1024 }')
  local ok=$CHECK
  [ "$done" = 1 ] || ok=FAIL
  [ "${dup:-1}" = 0 ] || ok="FAIL(dup)"
  ROW[$label]="$s $mode $p $RES_RATE $ratio $RES_START_FIRST $RES_START_ALL $cpu $kbd $((hwm / 1024)) $ok"
}

for c in $CONFIGS; do
  run_pending "b-${c/:/-}" "${c%%:*}" "${c#*:}" "$PENDING"
done
resume_label="c-${RESUME_CONFIG/:/-}"
run_pending "$resume_label" "${RESUME_CONFIG%%:*}" "${RESUME_CONFIG#*:}" "$RESUME"
C_FIRST=$RES_START_FIRST C_P10=$RES_START_P10 C_ALL=$RES_START_ALL C_LISTEN=$RES_LISTEN

# ---- d. commit-to-first-byte at a fixed rate --------------------------------------------------
cat >"$work/driver.mjs" <<'EOF'
// driver.mjs URL TOKEN ROID SOIDS(comma) RATE SECONDS CONNS: triggerNewRevision on a fixed
// schedule (open loop: call k is due at k / RATE s), round robin over the services.
import http from 'node:http';
const [url, token, roid, soidList, rate, seconds, conns] = process.argv.slice(2);
const soids = soidList.split(',').map(Number);
const total = Math.round(Number(rate) * Number(seconds));
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conns) });
const target = new URL('/json', url);
let sent = 0, done = 0, errors = 0, maxLate = 0;
const lat = [];
const t0 = performance.now();
function finish() {
  const wall = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0);
  console.log(`DRIVER calls=${total} ok=${total - errors} errors=${errors} wall_s=${wall.toFixed(2)} ` +
    `rate=${(total / wall).toFixed(0)} call_p50_ms=${q(0.5).toFixed(2)} call_p99_ms=${q(0.99).toFixed(2)} ` +
    `call_max_ms=${q(1).toFixed(2)} max_late_ms=${maxLate.toFixed(1)}`);
  agent.destroy();
}
function fire(k) {
  const body = JSON.stringify({ token, request: { interface: 'ServiceInterface',
    method: 'triggerNewRevision', parameters: { roid: Number(roid), soid: soids[k % soids.length] } } });
  const ts = performance.now();
  const req = http.request(target, { method: 'POST', agent, headers: {
    'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
    let d = '';
    res.setEncoding('utf8');
    res.on('data', (c) => { d += c; });
    res.on('end', () => {
      lat.push(performance.now() - ts);
      if (res.statusCode !== 200 || !d.startsWith('{"response":{"result"')) {
        if (errors++ < 3) console.error(`call ${k}: HTTP ${res.statusCode} ${d.slice(0, 200)}`);
      }
      if (++done === total) finish();
    });
  });
  req.on('error', (e) => { if (errors++ < 3) console.error(`call ${k}: ${e.message}`); if (++done === total) finish(); });
  req.end(body);
}
function tick() {
  const now = performance.now();
  const due = Math.min(total, Math.floor(((now - t0) * Number(rate)) / 1000) + 1);
  if (sent < due) maxLate = Math.max(maxLate, now - t0 - (sent * 1000) / Number(rate));
  while (sent < due) fire(sent++);
  if (sent < total) setTimeout(tick, 1);
}
tick();
EOF
lat_s=${LAT_CONFIG%%:*}
lat_mode=${LAT_CONFIG#*:}
echo
echo "== d. commit-to-first-byte: triggerNewRevision at $RATE/s for $LAT_SECONDS s, round robin over $lat_s services ($lat_mode)"
dir=$work/run
prepare_dir "$dir" "$lat_s" "$lat_mode" 0
settle
start_sink lat --out "$work/lat.arrivals"
start_server "$dir"
login
soid_csv=$(IFS=,; echo "${SOIDS[*]:0:$lat_s}")
echo "\$ node driver.mjs $url TOKEN $roid $soid_csv $RATE $LAT_SECONDS 32"
dout=$(node "$work/driver.mjs" "$url" "$token" "$roid" "$soid_csv" "$RATE" "$LAT_SECONDS" 32 2>&1 || true)
echo "$dout"
DL=$(grep '^DRIVER' <<<"$dout" || true)
calls_ok=$(field ok "$DL")
for _ in $(seq 150); do
  [ "$(sink_count)" -ge "${calls_ok:-0}" ] 2>/dev/null && break
  sleep 0.2
done
lat_cpu=$(cpu_s "$server_pid")
stop_server
stop_sink
grep '^SINK' "$sink_out" || true
sqlite3 -separator ' ' "$dir/bimhub.db" "SELECT id, created_ms FROM deliveries" >"$work/lat.created"
# the sink's µs against created_ms (ms, truncated: up to +1 ms of the figure is that);
# lat.joined: created_ms latency_ms
awk 'NR == FNR { c[$1] = $2; next } ($1 in c) { printf "%s %.3f\n", c[$1], $2 / 1000 - c[$1] }' \
  "$work/lat.created" "$work/lat.arrivals" >"$work/lat.joined"
pct() { # reads latencies, prints n= p50= p99= max=
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "n=0 p50=- p99=- max=-"; exit }
    i50 = int(0.5 * NR); if (i50 < 1) i50 = 1; i99 = int(0.99 * NR + 0.999); if (i99 > NR) i99 = NR
    printf "n=%d p50=%.1f p99=%.1f max=%.1f\n", NR, v[i50], v[i99], v[NR] }'
}
LAT=$(cut -d' ' -f2 "$work/lat.joined" | pct)
t_first=$(awk 'NR == 1 || $1 < m { m = $1 } END { printf "%.0f", m }' "$work/lat.joined")
LAT_STEADY=$(awk -v t="${t_first:-0}" '$1 >= t + 1000 { print $2 }' "$work/lat.joined" | pct)
lat_rows=$(wc -l <"$work/lat.created")
echo "deliveries in the store: $lat_rows; joined arrivals: $(field n " $LAT"); server CPU $lat_cpu s"
echo "commit-to-first-byte ms, all events:           $LAT"
echo "commit-to-first-byte ms, after the first 1 s:  $LAT_STEADY"
echo "per 1 s of events (created_ms), p99 ms: $(awk -v t="${t_first:-0}" '{ print int(($1 - t) / 1000), $2 }' "$work/lat.joined" |
  sort -k1,1n -k2,2n | awk '{ n[$1]++; v[$1, n[$1]] = $2 } END { for (s = 0; s in n; s++) { i = int(0.99 * n[s] + 0.999); printf "%s%.1f", (s ? " " : ""), v[s, i] } print "" }')"

# ---- e. idle memory -------------------------------------------------------------------------
echo
echo "== e. idle: bimhub started on the data dir with $maxs services registered, nothing pending"
dir=$work/run
rm -rf "$dir"
cp -a "$tmpl" "$dir"
start_server "$dir"
sleep 5
IDLE_RSS=$(rss_kib "$server_pid")
echo "VmRSS 5 s after start: $IDLE_RSS KiB; threads: $(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")"
stop_server

# ---- summary ----------------------------------------------------------------------------------
busy=$(cpu_busy)
echo
echo "load at the end: ${busy}% of the CPUs busy (nothing of this bench runs now); load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$busy" -le 10 ] || echo "WARNING: something else is using the CPUs: the figures are skewed"
echo
echo "== summary (bimhub $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown); $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); server and sink share them)"
printf '%-22s %4s %8s %8s %9s %7s %9s %9s %6s %7s %6s %s\n' run S mode P "deliv/s" "/wrk" \
  "first ms" "all ms" "CPU s" "KiB/dlv" "HWM MB" check
for label in $(for c in $CONFIGS; do echo "b-${c/:/-}"; done) "$resume_label"; do
  r=${ROW[$label]:-}
  [ -n "$r" ] || continue
  # shellcheck disable=SC2086
  printf '%-22s %4s %8s %8s %9s %7s %9s %9s %6s %7s %6s %s\n' "$label" $r
done
aim() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "" || v == "-") { print "?"; exit }
  ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 < t + 0); print ok ? "met" : "NOT met" }'; }
best_label=
best=-1
for c in $CONFIGS; do # the fastest of the b runs
  r=$(echo "${ROW[b-${c/:/-}]:-}" | awk '{print $4}')
  [ -n "$r" ] && [ "$r" -gt "$best" ] && { best=$r; best_label="b-${c/:/-}"; }
done
best_rate=$(echo "${ROW[$best_label]:-}" | awk '{print $4}')
best_ratio=$(echo "${ROW[$best_label]:-}" | awk '{print $5}')
lat_p99=$(field p99 " $LAT")
echo
printf '%-44s %-22s %-12s %s\n' measure result aim verdict
printf '%-44s %-22s %-12s %s\n' "a. sink ceiling (wrk -c$WRK_CONNS)" "${CEILING:-?} req/s" "-" "-"
printf '%-44s %-22s %-12s %s\n' "b. durable deliveries/s ($best_label)" "${best_rate:-?}/s" ">= 20000" "$(aim "$best_rate" 20000 '>=')"
printf '%-44s %-22s %-12s %s\n' "b. ratio to the sink's ceiling" "${best_ratio:-?}" ">= 0.3" "$(aim "$best_ratio" 0.3 '>=')"
printf '%-44s %-22s %-12s %s\n' "c. $RESUME pending: start -> first delivery" "$C_FIRST ms" "< 10000 ms" "$(aim "$C_FIRST" 10000 '<')"
printf '%-44s %-22s %-12s %s\n' "c. start -> 10 % / all delivered" "$C_P10 / $C_ALL ms" "-" "(listening after $C_LISTEN ms)"
printf '%-44s %-22s %-12s %s\n' "d. commit-to-first-byte at $RATE/s p50/p99/max" "$(field p50 " $LAT")/$lat_p99/$(field max " $LAT") ms" "p99 < 20 ms" "$(aim "$lat_p99" 20 '<')"
printf '%-44s %-22s %-12s %s\n' "d. the same after the first 1 s" "$(field p50 " $LAT_STEADY")/$(field p99 " $LAT_STEADY")/$(field max " $LAT_STEADY") ms" "p99 < 20 ms" "$(aim "$(field p99 " $LAT_STEADY")" 20 '<')"
printf '%-44s %-22s %-12s %s\n' "d. driver: calls ok / achieved rate" "$(field ok "$DL")/$(field calls "$DL") at $(field rate "$DL")/s" "-" "call p99 $(field call_p99_ms "$DL") ms"
printf '%-44s %-22s %-12s %s\n' "e. idle VmRSS ($maxs services)" "$((IDLE_RSS / 1024)) MiB ($IDLE_RSS KiB)" "< 20 MiB" "$(aim "$IDLE_RSS" 20480 '<')"
echo "deliv/s = unique webhook-ids / (last - first arrival); /wrk = that / the sink's wrk ceiling;"
echo "first, all = ms from the server's exec to the first and the last arrival; CPU s = the server's"
echo "user+sys seconds for the run; KiB/dlv = the server's write(2) bytes (/proc wchar: WAL, database"
echo "and sockets) per delivery; check = the store says every row delivered with one attempt and the"
echo "sink saw no webhook-id twice."
