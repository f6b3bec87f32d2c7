#!/usr/bin/env bash
# The abuse suite (docs/API.md, "At the edge") against a release build of wxauth.
#   bash tests/abuse/run.sh              build target/release/wxauth, run every attack
#   WXAUTH_BIN=path bash tests/abuse/run.sh --measure --only 1,4
# Loopback only; needs python3 (stdlib), openssl and ss (iproute2); about 3-5
# minutes (attacks 7-14, each bounded to 15-25 s, about 2.5 of them). Raises
# its fd limit, and, with root, the kernel's connection-tracking table (see
# roomy_conntrack in abuse.py).
# Exit status non-zero when any check fails (never with --measure).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${WXAUTH_BIN:-}" ]; then
  cargo build --release --locked --bin wxauth
  WXAUTH_BIN="${CARGO_TARGET_DIR:-target}/release/wxauth"
fi
exec python3 tests/abuse/abuse.py --bin "$WXAUTH_BIN" "$@"
