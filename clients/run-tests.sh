#!/usr/bin/env bash
# Client-side tests, run from a clean checkout (CI: `bash clients/run-tests.sh`
# from the repository root):
#   1. the mini-program client (clients/miniprogram): `npm ci` (TypeScript and
#      the runtimes' typings), then node --test, which runs
#      - the client on wx, qq, tt, uni and Taro through shims, against the real
#        server in simulator mode (its three apps) and a fake for error answers,
#      - tsc --noEmit --strict: each shim against its runtime's typings, the
#        client's declarations against the real runtime objects, and
#        miniprogram_dist/ against a fresh build of src/,
#      - npm pack installed into an empty mini-program project (loads, logs in,
#        and the example mini-program in examples/miniprogram type-checks);
#   2. JWT interop: tokens verified by jose with the JWK Set (interop/);
#   3. Alipay's own SDK (alipay-sdk, clients/alipay-sdk-check) against the
#      simulated Alipay gateway: its signed request accepted, the gateway's
#      signed answers verified by it.
# Each starts target/debug/wxauth in simulator mode (WXAUTH_BIN overrides it).
# Needs Node 20+ and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

export WXAUTH_BIN="${WXAUTH_BIN:-$PWD/target/debug/wxauth}"
if [ ! -x "$WXAUTH_BIN" ]; then
  say "cargo build (no $WXAUTH_BIN yet)"
  cargo build
fi

# Every part runs whatever the others give; the script fails if either failed.
# (Each part chains with &&: `set -e` does not apply inside a `( ... ) ||`.)
status=0

say "mini-program client: npm ci && node --test (runtimes, types, npm pack)"
(
  cd clients/miniprogram &&
  npm ci --no-audit --no-fund &&
  node --test --test-reporter=spec test/*.test.js
) || status=1

say "JWT interop (jose): npm ci && node --test interop/test"
(
  cd interop &&
  npm ci --no-audit --no-fund &&
  node --test --test-reporter=spec test/*.test.js
) || status=1

say "Alipay's SDK against the simulated gateway: npm ci && node --test clients/alipay-sdk-check"
(
  cd clients/alipay-sdk-check &&
  npm ci --no-audit --no-fund &&
  node --test --test-reporter=spec test/*.test.js
) || status=1

exit "$status"
