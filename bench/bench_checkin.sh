#!/usr/bin/env bash
# bench_checkin.sh: check-in throughput against sha256sum and the bare IFC reader.
#
#   bench/bench_checkin.sh [SIZE_MB]       (default 500; BIMHUB_BIN, default build-release/bimhub)
#
# (a) generates a SIZE_MB IFC file from the shared duplex.ifc (bench/gen_big_ifc.mjs: the DATA
#     section repeated with renumbered ids) in a temp dir;
# (b) times `sha256sum` of it;
# (c) times the streaming reader alone (bench/bench_ifc_reader.c, cc -O2);
# (d) times a whole check-in through POST /upload (curl -F, sync=true) against a fresh bimhub
#     on 127.0.0.1, from the start of the upload to the FINISHED state, and reads the server's
#     peak RSS (VmHWM); the same for the largest shared file.
# Prints MB/s (10^6 bytes) for each and the ratio check-in / sha256sum, with the commands.
# Everything runs on 127.0.0.1; temp files and the server are removed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${BIMHUB_SHARED:-$(cd "$ROOT/../shared" 2>/dev/null && pwd || true)}
IFC_DIR="$SHARED/data/ifc"
BIN=${BIMHUB_BIN:-$ROOT/build-release/bimhub}
SIZE_MB=${1:-500}
[ -x "$BIN" ] || { echo "bimhub binary not found: $BIN (make bench builds it; or set BIMHUB_BIN)" >&2; exit 1; }
[ -f "$IFC_DIR/duplex.ifc" ] || { echo "shared IFC files not found in $IFC_DIR (set BIMHUB_SHARED)" >&2; exit 1; }
for t in node curl cc sha256sum python3; do
  command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bimhub-bench-checkin.XXXXXX")
SRV_PID=
cleanup() {
  if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
mbps() { python3 -c "import sys; b,s=float(sys.argv[1]),float(sys.argv[2]); print(f'{b/1e6/s:.1f}')" "$1" "$2"; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.3f}')" "$1" "$2"; }
show() { echo "  \$ $*"; }

BIG="$WORK/big.ifc"
echo "== (a) generate ${SIZE_MB} MB IFC"
show node bench/gen_big_ifc.mjs "$IFC_DIR/duplex.ifc" "$SIZE_MB" "$BIG"
node "$ROOT/bench/gen_big_ifc.mjs" "$IFC_DIR/duplex.ifc" "$SIZE_MB" "$BIG"
LARGEST=$(ls -S "$IFC_DIR"/*.ifc | head -1)

echo "== (b) sha256sum"
declare -A SHA_S
for f in "$BIG" "$LARGEST"; do
  cat "$f" >/dev/null # page cache
  show sha256sum "$f"
  t0=$(now); sha256sum "$f" >/dev/null; t1=$(now)
  SHA_S[$f]=$(elapsed "$t0" "$t1")
  echo "  $(basename "$f"): $(stat -c %s "$f") bytes, ${SHA_S[$f]} s, $(mbps "$(stat -c %s "$f")" "${SHA_S[$f]}") MB/s"
done

echo "== (c) IFC reader alone"
show cc -std=c17 -O2 -D_GNU_SOURCE -Isrc -o "$WORK/bench_ifc_reader" bench/bench_ifc_reader.c src/ifc/ifc_reader.c src/common/bh_err.c
(cd "$ROOT" && cc -std=c17 -O2 -D_GNU_SOURCE -Isrc -o "$WORK/bench_ifc_reader" bench/bench_ifc_reader.c \
  src/ifc/ifc_reader.c src/common/bh_err.c)
show "$WORK/bench_ifc_reader" "$BIG" "$LARGEST"
"$WORK/bench_ifc_reader" "$BIG" "$LARGEST" | sed 's/^/  /'

echo "== (d) check-in through /upload"
DATA="$WORK/data"
mkdir -p "$DATA"
"$BIN" serve --host 127.0.0.1 --port 0 --data-dir "$DATA" --log-level warn \
  --admin-user bench@bimhub.test --admin-password bench-secret-1 \
  --max-upload-bytes $(( (SIZE_MB + 100) * 1000000 )) >"$WORK/server.out" 2>"$WORK/server.err" &
SRV_PID=$!
URL=
for _ in $(seq 100); do
  URL=$(grep -o 'listening on http://[^ /]*' "$WORK/server.out" 2>/dev/null | head -1 | sed 's/listening on //') || true
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "bimhub did not start:"; cat "$WORK/server.err"; exit 1; }
echo "  server $URL (pid $SRV_PID, $BIN)"

rpc() { # interface method params-json [token] -> result json
  local body="{\"request\":{\"interface\":\"$1\",\"method\":\"$2\",\"parameters\":$3}${4:+,\"token\":\"$4\"}}"
  curl -s "$URL/json" -H 'Content-Type: application/json' -d "$body" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; print(json.dumps(r["result"]) if "result" in r else sys.exit("error: "+json.dumps(r)))'
}
TOKEN=$(rpc AuthInterface login '{"username":"bench@bimhub.test","password":"bench-secret-1"}' | tr -d '"')
DES=$(rpc PluginInterface getAllDeserializers '{"onlyEnabled":true}' "$TOKEN" |
  python3 -c 'import json,sys; print(next(d["oid"] for d in json.load(sys.stdin) if d["name"]=="Ifc2x3tc1 (Streaming)"))')

# smallest first: VmHWM is the peak of the process so far
for f in "$LARGEST" "$BIG"; do
  name=$(basename "$f")
  POID=$(rpc ServiceInterface addProject "{\"projectName\":\"bench-$name\",\"schema\":\"ifc2x3tc1\"}" "$TOKEN" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["oid"])')
  size=$(stat -c %s "$f")
  show curl -s -F token=T -F deserializerOid=$DES -F comment=bench -F poid=$POID -F sync=true -F "file=@$f" "$URL/upload"
  t0=$(now)
  out=$(curl -s -F "token=$TOKEN" -F "deserializerOid=$DES" -F comment=bench -F "poid=$POID" \
    -F sync=true -F "file=@$f" "$URL/upload")
  t1=$(now)
  state=$(printf '%s' "$out" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("state"), s.get("title"))' 2>/dev/null || echo "? $out")
  hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$SRV_PID/status")
  s=$(elapsed "$t0" "$t1")
  ratio=$(python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$s" "${SHA_S[$f]}")
  echo "  $name: $size bytes, $s s, $(mbps "$size" "$s") MB/s, final: $state, server VmHWM (peak so far) $hwm," \
       "check-in/sha256sum time ratio $ratio"
done
