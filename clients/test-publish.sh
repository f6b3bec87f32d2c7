#!/usr/bin/env bash
# clients/test-publish.sh: the mini-program client as users get it, by name
# from a registry. A throwaway Verdaccio (from the npm registry) on loopback,
# with its config and storage in a temporary folder; `npm publish` of
# clients/miniprogram as it is; an empty mini-program project that runs
# `npm install wxauth-miniprogram` by name, then "build npm" with
# miniprogram-ci (WeChat's own command-line build, the same step as the
# developer tools' Tools -> Build npm, which follows package.json's
# `miniprogram` field), and whose page, loaded from miniprogram_npm/ alone,
# logs in against the real binary in simulator mode.
#
#   cargo build && bash clients/test-publish.sh
#
# Needs Node 20+, npm, curl, python3, and the npm registry (for Verdaccio and
# miniprogram-ci, installed once into target/npm-tools; NPM_TOOLS overrides).
# WXAUTH_BIN: the binary (default target/debug/wxauth). KEEP_TMP=1 keeps the
# temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export WXAUTH_BIN="${WXAUTH_BIN:-$ROOT/target/debug/wxauth}"
case $WXAUTH_BIN in /*) ;; *) WXAUTH_BIN=$ROOT/$WXAUTH_BIN ;; esac
TOOLS=${NPM_TOOLS:-$ROOT/target/npm-tools}
VERDACCIO=verdaccio@6.8.0       # the last 6.x that runs on Node 20
MINIPROGRAM_CI=miniprogram-ci@2.1.42
PKG=$ROOT/clients/miniprogram
NAME=wxauth-miniprogram

say() { printf '\n==> %s\n' "$*"; }
T=$(mktemp -d /tmp/wxauth-publish.XXXXXX)
REG_PID=""
cleanup() {
  local rc=$?
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT

if [ ! -x "$WXAUTH_BIN" ]; then
  say "cargo build (no $WXAUTH_BIN yet)"
  cargo build --bin wxauth
fi
if [ ! -x "$TOOLS/node_modules/.bin/verdaccio" ] || [ ! -d "$TOOLS/node_modules/miniprogram-ci" ]; then
  say "installing $VERDACCIO and $MINIPROGRAM_CI into $TOOLS (once)"
  mkdir -p "$TOOLS"
  [ -f "$TOOLS/package.json" ] || echo '{"private": true}' >"$TOOLS/package.json"
  (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error "$VERDACCIO" "$MINIPROGRAM_CI")
fi

say "Verdaccio on loopback, storage in $T"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=http://127.0.0.1:$PORT
cat >"$T/config.yaml" <<YAML
storage: $T/storage
auth:
  htpasswd:
    file: $T/htpasswd
    max_users: 1
# No uplinks: nothing is fetched from or proxied to another registry, so a
# name resolves only to what was published here.
uplinks: {}
packages:
  '**':
    access: \$all
    publish: \$authenticated
log: { type: stdout, format: pretty, level: warn }
YAML
"$TOOLS/node_modules/.bin/verdaccio" --config "$T/config.yaml" --listen "127.0.0.1:$PORT" >"$T/verdaccio.log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 150); do
  curl -sf "$REG/-/ping" >/dev/null 2>&1 && break
  kill -0 "$REG_PID" 2>/dev/null || { cat "$T/verdaccio.log"; exit 1; }
  sleep 0.2
done
curl -sf "$REG/-/ping" >/dev/null || { cat "$T/verdaccio.log"; echo "Verdaccio did not start"; exit 1; }

# A user for publishing (npm adduser, without the prompt); its token goes into
# an npmrc of this run only.
TOKEN=$(curl -sf -X PUT "$REG/-/user/org.couchdb.user:ci" -H 'Content-Type: application/json' \
  -d "{\"name\":\"ci\",\"password\":\"ci-$RANDOM$RANDOM\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
NPMRC=$T/npmrc
printf 'registry=%s/\n//127.0.0.1:%s/:_authToken=%s\n' "$REG" "$PORT" "$TOKEN" >"$NPMRC"
export npm_config_userconfig=$NPMRC

say "npm publish clients/miniprogram as it is"
VERSION=$(node -p "require('$PKG/package.json').version")
(cd "$PKG" && npm publish --registry "$REG/")
[ "$(npm view "$NAME" version --registry "$REG/")" = "$VERSION" ] || { echo "the registry does not serve $NAME@$VERSION"; exit 1; }
echo "$REG serves $NAME@$VERSION"

say "an empty mini-program project installs $NAME by name"
P=$T/project
mkdir -p "$P/pages/index"
echo '{"name": "empty-miniprogram", "version": "1.0.0", "private": true}' >"$P/package.json"
cat >"$P/project.config.json" <<'JSON'
{
  "appid": "touristappid",
  "compileType": "miniprogram",
  "setting": {
    "packNpmManually": true,
    "packNpmRelationList": [{ "packageJsonPath": "./package.json", "miniprogramNpmDistDir": "./" }]
  }
}
JSON
echo '{"pages": ["pages/index/index"]}' >"$P/app.json"
echo 'App({ globalData: {} });' >"$P/app.js"
echo '<view>{{openid}}</view>' >"$P/pages/index/index.wxml"
echo '{}' >"$P/pages/index/index.json"
cat >"$P/pages/index/index.js" <<'JS'
const { createClient } = require('wxauth-miniprogram');

const auth = createClient({ baseUrl: getApp().globalData.baseUrl });

Page({
  data: { openid: '' },
  onLoad() {
    return auth.request({ url: '/auth/me' }).then((res) => {
      this.setData({ openid: res.data.openid });
    });
  },
});
JS
(cd "$P" && npm install --no-audit --no-fund "$NAME")
node -e '
const p = require(process.argv[1] + "/package.json"), lock = require(process.argv[1] + "/package-lock.json");
const dep = lock.packages["node_modules/" + process.argv[2]];
if (!p.dependencies[process.argv[2]] || !dep.resolved.startsWith(process.argv[3])) {
  console.error("not installed by name from the local registry:", JSON.stringify(dep)); process.exit(1);
}
console.log("package.json: " + process.argv[2] + " " + p.dependencies[process.argv[2]] + ", from " + dep.resolved);
' "$P" "$NAME" "$REG/"

say "build npm (miniprogram-ci packNpmManually, as the developer tools' Tools -> Build npm)"
node -e '
const ci = require(process.argv[1]);
const project = process.argv[2];
ci.packNpmManually({ packageJsonPath: project + "/package.json", miniprogramNpmDistDir: project })
  .then((r) => {
    console.log(JSON.stringify(r));
    if (r.miniProgramPackNum !== 1 || r.warnList.length) process.exit(1);
  }, (e) => { console.error(e); process.exit(1); });
' "$TOOLS/node_modules/miniprogram-ci" "$P"
ls "$P/miniprogram_npm/$NAME"
rm -rf "$P/node_modules"   # the runtime has none: only miniprogram_npm/ ships

say "the page logs in against the real server (simulator mode)"
node "$PKG/test/registry/run-page.js" "$P"
echo "clients/test-publish.sh: published, installed by name, built and logged in"
