#!/usr/bin/env bash
# Supply-chain check: cargo deny (advisories, licenses, bans, sources) against
# Cargo.lock, with the policy in deny.toml. Offline: the RustSec database comes
# from the git bundle beside the checkout (../shared/advisory-db.bundle), cloned
# under target/ (git-ignored, never committed). The network is used only to
# install cargo-deny when it is missing and by `cargo fetch` for crates not yet
# in Cargo's cache; `cargo deny` itself runs with --offline.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

# The version deny.toml was written and tested against.
CARGO_DENY_VERSION=0.20.2
# Relative paths are from the repo root.
BUNDLE=${WXAUTH_ADVISORY_BUNDLE:-../shared/advisory-db.bundle}
# deny.toml's db-path, plus the folder name cargo-deny derives from its default
# database URL (https://github.com/RustSec/advisory-db).
DB_DIR=target/advisory-db/advisory-db-3157b0e258782691
# cargo-deny refuses a database older than this (maximum-db-staleness); it
# dates a fresh clone by the clone, so warn on the snapshot's own date here.
STALE_DAYS=90

if ! cargo deny --version >/dev/null 2>&1; then
  say "installing cargo-deny $CARGO_DENY_VERSION (cargo install --locked; several minutes)"
  cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
fi
say "using $(cargo deny --version)"

say "advisory database from $BUNDLE"
[ -f "$BUNDLE" ] || die "advisory database bundle not found at $BUNDLE (a git bundle of the RustSec advisory-db; CI expects shared/ beside the repo, or set WXAUTH_ADVISORY_BUNDLE)"
want=$(git bundle list-heads "$BUNDLE" 2>/dev/null | awk '$2 == "HEAD" { print $1 }') ||
  die "$BUNDLE is not a readable git bundle"
[ -n "$want" ] || want=$(git bundle list-heads "$BUNDLE" | awk 'NR == 1 { print $1 }')
have=$(git -C "$DB_DIR" rev-parse -q --verify HEAD 2>/dev/null || true)
if [ -n "$have" ] && [ "$have" = "$want" ]; then
  echo "reusing $DB_DIR (already at the bundle's $want)"
else
  rm -rf "$DB_DIR"
  mkdir -p "$(dirname "$DB_DIR")"
  git -c init.defaultBranch=main clone -q "$BUNDLE" "$DB_DIR"
  echo "cloned into $DB_DIR"
fi
snapshot=$(git -C "$DB_DIR" show -s --format=%cI HEAD)
age_days=$(( ($(date +%s) - $(git -C "$DB_DIR" show -s --format=%ct HEAD)) / 86400 ))
echo "snapshot of $snapshot ($age_days days old)"
if [ "$age_days" -gt "$STALE_DAYS" ]; then
  echo "warning: the advisory snapshot is older than $STALE_DAYS days: advisories published since are not checked; refresh the bundle" >&2
fi

say "cargo fetch --locked"
cargo fetch --locked

say "cargo deny --offline check (advisories, licenses, bans, sources)"
cargo deny --locked --offline check
