#!/usr/bin/env bash
# run.sh: machine facts, then every benchmark, each printed with the command that ran it.
# Expects a release build in build-release/ (make bench does both).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

echo "== machine"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc:   $(nproc)"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel:  $(uname -srm)"
echo "memory:  $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "bimhub:  $(git describe --always --dirty 2>/dev/null || echo unknown), build-release/"
echo "cc:      $(cc --version | head -n1)"
echo "nginx:   $(nginx -v 2>&1 | sed 's/^nginx version: //')"
echo "wrk:     $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"

status=0
echo
echo "== bench/bench_http.sh"
bench/bench_http.sh || { echo "bench_http.sh failed"; status=1; }

echo
echo "== bench/bench_checkin.sh (the IFC reader, sha256sum, whole check-ins)"
bench/bench_checkin.sh "${BENCH_CHECKIN_MB:-500}" || { echo "bench_checkin.sh failed"; status=1; }

echo
echo "== bench/bench_fanout.sh (pushes to /stream endpoints, and mosquitto as the peer)"
bench/bench_fanout.sh || { echo "bench_fanout.sh failed"; status=1; }
echo; echo "== bench/bench_deliver.sh (durable service notifications to a local sink)"; bench/bench_deliver.sh || { echo "bench_deliver.sh failed"; status=1; }
exit $status
