#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages bimhub needs to build and test.
# Idempotent and fast when everything is present (one `dpkg -s` per package; apt-get runs,
# after one `apt-get update`, only when something is missing). Needs root (or sudo) only
# then.
#   scripts/install-deps.sh           build + test packages
#   scripts/install-deps.sh --bench   also wrk and nginx-light (used by bench/bench_http.sh)
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang clang-format
  libmicrohttpd-dev libwslay-dev libuv1-dev libjansson-dev libsqlite3-dev
  libsodium-dev libcurl4-openssl-dev libcmocka-dev zlib1g-dev curl)
for arg in "$@"; do
  case "$arg" in
    --bench) pkgs+=(wrk nginx-light sqlite3) ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# Node.js may come from elsewhere than Debian (e.g. a newer build in /usr/bin or /usr/local).
# The tests need node >= 18 (node --test, module.register) and npm; only when either is
# missing do we ask for Debian's nodejs and npm.
node_major=0
if command -v node >/dev/null 2>&1; then
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
fi
if [ "$node_major" -lt 18 ]; then
  pkgs+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps.sh: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
