#!/usr/bin/env bash
# Client-side tests, run from a clean checkout (CI: `bash clients/run-tests.sh`
# from the repository root):
#   1. the mini-program client (clients/miniprogram) against the real server,
#   2. JWT interop: tokens verified by jose with the JWK Set (interop/).
# Both start target/debug/wxauth in simulator mode (WXAUTH_BIN overrides it).
# Needs Node 20+ and npm; the interop tests install jose with `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

export WXAUTH_BIN="${WXAUTH_BIN:-$PWD/target/debug/wxauth}"
if [ ! -x "$WXAUTH_BIN" ]; then
  say "cargo build (no $WXAUTH_BIN yet)"
  cargo build
fi

say "mini-program client: node --test clients/miniprogram/test"
node --test --test-reporter=spec clients/miniprogram/test/*.test.js

say "JWT interop (jose): npm ci && node --test interop/test"
(
  cd interop
  npm ci --no-audit --no-fund
  node --test --test-reporter=spec test/*.test.js
)
