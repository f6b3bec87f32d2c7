#!/usr/bin/env bash
# Property-based API testing: schemathesis (from PyPI) generates requests from
# docs/openapi.json and checks every answer of the running server against it:
# no 5xx, statuses, content types, headers and bodies as documented,
# unsupported methods answered 405 with Allow, auth enforced.
# Usage: bash .ci/schemathesis.sh   (from anywhere; builds what it needs)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${SCHEMATHESIS_VENV:-$PWD/target/schemathesis-venv}"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
BIN="${WXAUTH_BIN:-$PWD/target/debug/wxauth}"
[ -x "$BIN" ] || cargo build

WORK=$(mktemp -d)
LOG="$WORK/wxauth.log"
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# Simulator mode on a free loopback port. WXAUTH_CLIENT_RATE=0 turns the
# per-client rate limit off: the server allows one address 20 requests a
# second (a burst of 100) to /auth/login, /auth/refresh, /auth/check and
# /wx/*, and schemathesis sends far more than that from 127.0.0.1, so with
# the limit on most answers would be 429 `rate_limited` (documented in the
# OpenAPI document, with Retry-After) and the run would test the limiter
# instead of the routes. tests/api/edge.rs and tests/api/apps/ test it.
# WXAUTH_PUBLIC_URL serves the discovery document (else a 404), so it is tested
# too; it names the server as configured, whatever address it listens on.
(cd "$WORK" && exec env -i PATH="$PATH" WXAUTH_BIND=127.0.0.1:0 WXAUTH_CLIENT_RATE=0 \
  WXAUTH_PUBLIC_URL=https://auth.example.com RUST_LOG=info "$BIN" serve >"$LOG" 2>&1) &
PID=$!
for _ in $(seq 1 300); do
  BASE=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$LOG" | head -n1)
  [ -n "$BASE" ] && break
  sleep 0.1
done
[ -n "${BASE:-}" ] || { echo "wxauth did not start:"; cat "$LOG"; exit 1; }

# A real token for the guarded operations (the simulator plays wx.login()).
json() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
CODE=$(curl -sf -X POST "$BASE/sim/login" -H 'Content-Type: application/json' -d '{"user":"schemathesis"}' | json code)
TOKEN=$(curl -sf -X POST "$BASE/auth/login" -H 'Content-Type: application/json' -d "{\"code\":\"$CODE\"}" | json access_token)

"$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml run "$BASE/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $TOKEN" \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-100}" \
  --workers 2 \
  --seed "${SCHEMATHESIS_SEED:-20261121}" \
  --no-color

# The server must have survived it all.
curl -sf "$BASE/healthz" >/dev/null
# (actix-http logs a request it cannot parse, the client's fault, at ERROR.)
if grep -E "panicked|ERROR" "$LOG" | grep -v "request parse error"; then
  echo "the server logged errors during the run (above)"; exit 1
fi
echo "schemathesis: the running server conforms to docs/openapi.json"
