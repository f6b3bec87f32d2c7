#!/usr/bin/env bash
# Memory of the revocation list, on a release build: for each size (none,
# then SIZES), starts wxauth in production mode with a file of that many
# bans, reads its resident memory once started (VmRSS), then changes one
# line, sends SIGHUP, waits for the reload to be logged, and reads the peak
# (VmHWM, which covers the reload, old and new lists together). Prints a
# Markdown table; "cost" columns are against the server without a file.
#
# Usage: bash benches/revocations.sh          (SIZES="100000 1000000")
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES="${SIZES:-100000 1000000}"
cargo build --release --quiet --bin wxauth
BIN="${WXAUTH_BIN:-target/release/wxauth}"

WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$BIN" keygen --dir "$WORK/keys" --kid bench >/dev/null 2>&1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
# Waits (at most 60 s) until the server's log holds $1.
wait_log() {
  for _ in $(seq 1 600); do grep -q "$1" "$WORK/wxauth.log" && return 0; sleep 0.1; done
  echo "no '$1' in the log:" >&2; cat "$WORK/wxauth.log" >&2; exit 1
}

# Starts the server with the revocation file $1 (or none); sets SERVER.
start() {
  local port; port=$(free_port)
  local extra=()
  [ -n "$1" ] && extra=(WXAUTH_REVOCATIONS_FILE="$1")
  : >"$WORK/wxauth.log"
  env -i PATH="$PATH" WXAUTH_BIND="127.0.0.1:$port" WECHAT_APPID=wxbench000000000 \
    WECHAT_SECRET=bench-secret WECHAT_API_BASE=http://127.0.0.1:9 \
    WXAUTH_KEYS_DIR="$WORK/keys" WXAUTH_KEYS_RELOAD=3600 RUST_LOG=info "${extra[@]}" \
    "$BIN" serve >"$WORK/wxauth.log" 2>&1 &
  SERVER=$!
  wait_log "listening on"
  sleep 1
}

start ""
BASE_RSS=$(kib "$SERVER" VmRSS)
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""

echo "| entries | file | RSS started | cost | peak (VmHWM) through a reload | cost | reload took |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
echo "| none | - | $((BASE_RSS / 1024)) MiB | - | - | - | - |"
for n in $SIZES; do
  python3 -c "
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(int(sys.argv[2])):
        f.write('ban o%027d\n' % i)
" "$WORK/revocations" "$n"
  SIZE=$(stat -c %s "$WORK/revocations")
  start "$WORK/revocations"
  RSS=$(kib "$SERVER" VmRSS)
  # A changed file: one more ban (the whole list is rebuilt beside the old).
  echo "ban oChangedForTheReload0000000" >>"$WORK/revocations"
  T0=$(date +%s%N)
  kill -HUP "$SERVER"
  wait_log "revocations reloaded (SIGHUP)"
  T1=$(date +%s%N)
  HWM=$(kib "$SERVER" VmHWM)
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
  printf '| %s | %s MiB | %s MiB | +%s MiB | %s MiB | +%s MiB | %s ms |\n' \
    "$n" "$(awk -v b="$SIZE" 'BEGIN{printf "%.1f", b/1048576}')" \
    "$(awk -v k="$RSS" 'BEGIN{printf "%.1f", k/1024}')" \
    "$(awk -v k="$((RSS - BASE_RSS))" 'BEGIN{printf "%.1f", k/1024}')" \
    "$(awk -v k="$HWM" 'BEGIN{printf "%.1f", k/1024}')" \
    "$(awk -v k="$((HWM - BASE_RSS))" 'BEGIN{printf "%.1f", k/1024}')" \
    "$(( (T1 - T0) / 1000000 ))"
done
