#!/usr/bin/env bash
# Drives examples/h5 in Chromium against wxauth in simulator mode (CI runs
# it from .ci/run). Needs: chromium (Debian's), node/npm, python3, curl, and
# a built wxauth (WXAUTH_BIN, default target/debug/wxauth). Everything
# listens on loopback, on ports the kernel picks; everything stops at exit.
set -euo pipefail
# WXAUTH_BIN may be relative to where the script was called from (.ci/run
# passes target/debug/wxauth from the checkout's top).
CALLER=$PWD
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
BIN=${WXAUTH_BIN:-$ROOT/target/debug/wxauth}
case "$BIN" in /*) ;; *) BIN=$CALLER/$BIN ;; esac
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -x "$BIN" ] || { echo "no wxauth binary at $BIN (cargo build first)"; exit 1; }
[ -n "$CHROMIUM" ] || { echo "no chromium on PATH (apt-get install chromium)"; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
WXAUTH_PORT=$(free_port)
PAGE_PORT=$(free_port)
WXAUTH="http://127.0.0.1:$WXAUTH_PORT"

# wxauth in simulator mode, from a folder of its own (no .env, its own keys).
(cd "$WORK" && exec env -i PATH="$PATH" WXAUTH_BIND="127.0.0.1:$WXAUTH_PORT" \
  WXAUTH_KEYS_DIR="$WORK/keys" RUST_LOG=warn "$BIN" serve) >"$WORK/wxauth.log" 2>&1 &
PIDS+=($!)
# The page as a deployment would serve it: its <meta name="wxauth-server">
# names this wxauth. Any static server serves it; python's is everywhere.
mkdir "$WORK/page"
cp login.js "$WORK/page/"
sed "s|<meta name=\"wxauth-server\" content=\"[^\"]*\">|<meta name=\"wxauth-server\" content=\"$WXAUTH\">|" \
  index.html >"$WORK/page/index.html"
grep -q "content=\"$WXAUTH\"" "$WORK/page/index.html" || { echo "index.html has no wxauth-server meta"; exit 1; }
python3 -m http.server "$PAGE_PORT" --bind 127.0.0.1 --directory "$WORK/page" \
  >"$WORK/static.log" 2>&1 &
PIDS+=($!)
# Ready when they answer (connection refused is retried, for 20 s at most).
curl -fs --retry 40 --retry-connrefused --retry-delay 0 --retry-max-time 20 \
  -o /dev/null "$WXAUTH/healthz"
curl -fs --retry 40 --retry-connrefused --retry-delay 0 --retry-max-time 20 \
  -o /dev/null "http://127.0.0.1:$PAGE_PORT/index.html"

# alice's mini-program login, as the README's walk-through does it.
J='Content-Type: application/json'
CODE=$(curl -fsS -X POST "$WXAUTH/sim/login" -H "$J" -d '{"user":"alice"}' | sed 's/.*"code":"\([^"]*\)".*/\1/')
TOKEN=$(curl -fsS -X POST "$WXAUTH/auth/login" -H "$J" -d "{\"code\":\"$CODE\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
UNIONID=$(curl -fsS "$WXAUTH/auth/me" -H "Authorization: Bearer $TOKEN" | sed 's/.*"unionid":"\([^"]*\)".*/\1/')

cd browser-test
if [ ! -d node_modules ]; then
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
PAGE="http://127.0.0.1:$PAGE_PORT/index.html" UNIONID="$UNIONID" \
  CHROMIUM="$CHROMIUM" timeout 120 node test.mjs || {
  echo "--- wxauth log"; tail -n 30 "$WORK/wxauth.log"; exit 1; }
