#!/usr/bin/env bash
# The abuse suite (SPEC section 10) against a release build of wxauth.
#   bash tests/abuse/run.sh              build target/release/wxauth, run all six attacks
#   WXAUTH_BIN=path bash tests/abuse/run.sh --measure --only 1,4
# Loopback only; needs python3 (stdlib) and openssl; about 2-4 minutes.
# Exit status non-zero when any check fails (never with --measure).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${WXAUTH_BIN:-}" ]; then
  cargo build --release --locked --bin wxauth
  WXAUTH_BIN="${CARGO_TARGET_DIR:-target}/release/wxauth"
fi
exec python3 tests/abuse/abuse.py --bin "$WXAUTH_BIN" "$@"
