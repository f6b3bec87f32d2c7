#!/usr/bin/env bash
# deploy/test-forward-auth.sh: wxauth's GET /auth/verify as forward
# authentication, with the real nginx (auth_request, forward-auth/nginx.conf)
# and the real Caddy (forward_auth, forward-auth/Caddyfile) from the distro,
# in front of forward-auth/backend.py, a service with no JWT code at all.
# For each gateway: a valid token reaches the service with the identity
# headers (and a POST with its body), a missing or bad one gets wxauth's own
# 401 and never reaches the service, and X-Auth-* headers a client sends
# itself never reach it.
#
#   cargo build && bash deploy/test-forward-auth.sh [nginx|caddy|all]
#
# Needs: the wxauth binary (WXAUTH_BIN, default target/debug/wxauth; built
# with cargo if missing), curl, python3, and root or nginx and caddy already
# installed (it runs `apt-get install -y nginx caddy` when one is missing).
# Everything runs on 127.0.0.1 with free ports, from a temporary folder, and
# stops within TEST_FORWARD_AUTH_TIMEOUT seconds (default 60; it takes a few).
# It never touches a system nginx or Caddy. Ends with `N passed, M failed`;
# exit 0 only when M is 0. KEEP_TMP=1 keeps the temporary folder (logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${WXAUTH_BIN:-$ROOT/target/debug/wxauth}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
LIMIT=${TEST_FORWARD_AUTH_TIMEOUT:-60}
WHICH=${1:-all}
CURL=(curl -s --max-time 5)
case $WHICH in nginx | caddy | all) ;; *) echo "usage: $0 [nginx|caddy|all]" >&2; exit 2 ;; esac

START=$SECONDS
T=""
PIDS=()
WATCHDOG=""

say() { printf '\n== %s (at %ds)\n' "$*" "$((SECONDS - START))"; }
. "$HERE/testlib.sh"
show_logs() {
  [ -n "$T" ] && [ -d "$T" ] || return 0
  local f
  for f in "$T"/*.log "$T"/nginx/error.log; do
    [ -s "$f" ] || continue
    printf -- '--- last lines of %s\n' "${f#"$T"/}"
    tail -n 15 "$f"
  done
}
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  if [ -n "$WATCHDOG" ]; then kill "$WATCHDOG" 2>/dev/null || true; fi
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}" $WATCHDOG; do wait "$p" 2>/dev/null || true; done
  if [ -n "$T" ] && [ -d "$T" ]; then
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'bad "finished within ${LIMIT}s (TEST_FORWARD_AUTH_TIMEOUT)"; show_logs; summary; exit 124' TERM

# --- what a clean machine may lack -------------------------------------------
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ "$WHICH" != caddy ]; then
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
fi
if [ "$WHICH" != nginx ]; then command -v caddy >/dev/null 2>&1 || missing+=(caddy); fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$BIN" ]; then
  say "building wxauth"
  (cd "$ROOT" && cargo build --quiet --bin wxauth)
fi

START=$SECONDS
start_watchdog "$LIMIT"
T=$(mktemp -d /tmp/wxauth-forward-auth.XXXXXX)
mkdir -p "$T/keys" "$T/nginx/tmp" "$T/caddy"
chmod 711 "$T"

# --- wxauth (simulator mode) and the service behind the gateways -------------
say "wxauth and the backend"
(cd "$T" && exec env -i PATH="$PATH" WXAUTH_BIND=127.0.0.1:0 WXAUTH_KEYS_DIR="$T/keys" \
  WXAUTH_SHUTDOWN_TIMEOUT=1 RUST_LOG=info "$BIN" serve) 2>"$T/wxauth.log" &
PIDS+=($!)
wait_for 10 grep -qs 'listening on http://' "$T/wxauth.log" || die "wxauth did not start"
W=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$T/wxauth.log" | head -n1 | sed 's/listening on //')
BACKEND_PORT=$(free_port)
python3 "$HERE/forward-auth/backend.py" 127.0.0.1 "$BACKEND_PORT" 2>"$T/backend.log" &
PIDS+=($!)
backend_up() { "${CURL[@]}" -o /dev/null "http://127.0.0.1:$BACKEND_PORT/"; }
wait_for 10 backend_up || die "backend did not start"
: >"$T/backend.log"   # from here on, one line per request that reached it
echo "wxauth: $W, backend: 127.0.0.1:$BACKEND_PORT"

# token APPID: a token for the simulator's user alice in APPID.
token() {
  local code
  code=$("${CURL[@]}" -X POST "$W/sim/login" -H 'Content-Type: application/json' \
    -d "{\"user\":\"alice\",\"appid\":\"$1\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
  "${CURL[@]}" -X POST "$W/auth/login" -H 'Content-Type: application/json' \
    -d "{\"code\":\"$code\",\"appid\":\"$1\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
TOKEN=$(token wxsimulator0000000) || die "login through the simulator"
TT_TOKEN=$(token ttsimulator0000000) || die "Douyin login through the simulator"
"${CURL[@]}" "$W/auth/me" -H "Authorization: Bearer $TOKEN" >"$T/me.json"
OPENID=$(json "$T/me.json" openid)
UNIONID=$(json "$T/me.json" unionid)
[ -n "$OPENID" ] && [ -n "$UNIONID" ] || die "GET /auth/me: $(cat "$T/me.json")"
# A token without a unionid (WeChat sends none when the app is bound to no
# open platform account): from a second wxauth on the same key folder for the
# same appid, whose WeChat is a fake that answers without one.
FAKE_PORT=$(free_port)
python3 -c 'import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"{\"openid\":\"oNoUnionid000000000000000\",\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\"}"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$FAKE_PORT" &
PIDS+=($!)
fake_up() { "${CURL[@]}" -o /dev/null "http://127.0.0.1:$FAKE_PORT/"; }
wait_for 10 fake_up || die "the fake WeChat did not start"
(cd "$T" && exec env -i PATH="$PATH" WXAUTH_BIND=127.0.0.1:0 WXAUTH_KEYS_DIR="$T/keys" \
  WECHAT_APPID=wxsimulator0000000 WECHAT_SECRET=fake WECHAT_API_BASE="http://127.0.0.1:$FAKE_PORT" \
  WXAUTH_SHUTDOWN_TIMEOUT=1 RUST_LOG=info "$BIN" serve) 2>"$T/wxauth-no-unionid.log" &
PIDS+=($!)
wait_for 10 grep -qs 'listening on http://' "$T/wxauth-no-unionid.log" || die "the second wxauth did not start"
W2=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$T/wxauth-no-unionid.log" | head -n1 | sed 's/listening on //')
NO_UNIONID_TOKEN=$("${CURL[@]}" -X POST "$W2/auth/login" -H 'Content-Type: application/json' -d '{"code":"c"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || die "login without a unionid"
BAD=${TOKEN%?}x
[ "$BAD" != "$TOKEN" ] || BAD=${TOKEN%?}y
# wxauth's own answer to the bad token, which the gateways must hand on.
"${CURL[@]}" -D "$T/direct.head" -o "$T/direct.body" "$W/auth/verify" -H "Authorization: Bearer $BAD"

# seen NAME: the values of header NAME the backend received (from $T/body),
# one a line, matched without regard to case.
seen() {
  python3 -c 'import json,sys
for n, v in json.load(open(sys.argv[1]))["headers"]:
    if n.lower() == sys.argv[2].lower(): print(v)' "$T/body" "$1"
}
hits() { wc -l <"$T/backend.log" | tr -d ' '; }
header_of() { grep -i "^$1:" "$T/head" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

# checks GATEWAY URL: the same checks through either gateway.
checks() {
  local g=$1 G=$2 before
  say "through $g"
  req "$G/api/orders?page=1" -H "Authorization: Bearer $TOKEN"
  check "$g: a valid token reaches the backend (200)" test "$STATUS" = 200
  check "$g: X-Auth-Subject is the token's openid" test "$(seen X-Auth-Subject)" = "$OPENID"
  check "$g: X-Auth-Unionid is the token's unionid" test "$(seen X-Auth-Unionid)" = "$UNIONID"
  check "$g: X-Auth-Appid and X-Auth-Platform name the WeChat app" \
    test "$(seen X-Auth-Appid) $(seen X-Auth-Platform)" = "wxsimulator0000000 wechat"
  check "$g: the backend gets the path and query as sent" test "$(json "$T/body" path)" = "/api/orders?page=1"

  req "$G/api/orders" -H "Authorization: Bearer $TT_TOKEN"
  check "$g: a Douyin token arrives as X-Auth-Platform douyin" \
    test "$STATUS $(seen X-Auth-Appid) $(seen X-Auth-Platform)" = "200 ttsimulator0000000 douyin"

  req -X POST "$G/api/orders" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"item":42}'
  check "$g: a POST reaches the backend with its method and body (the check is a GET without it)" \
    test "$STATUS $(json "$T/body" method) $(json "$T/body" body)" = '200 POST {"item":42}'

  req "$G/api/orders" -H "Authorization: Bearer $TOKEN" \
    -H 'X-Auth-Subject: oSomeoneElse' -H 'X-Auth-Appid: wxsomeoneelse00000' \
    -H 'X-Auth-Platform: qq' -H 'X-Auth-Unionid: uSomeoneElse'
  check "$g: identity headers the client sends are replaced by wxauth's, one value each" \
    test "$STATUS|$(seen X-Auth-Subject)|$(seen X-Auth-Appid)|$(seen X-Auth-Platform)|$(seen X-Auth-Unionid)" \
    = "200|$OPENID|wxsimulator0000000|wechat|$UNIONID"

  req "$G/api/orders" -H "Authorization: Bearer $NO_UNIONID_TOKEN" -H 'X-Auth-Unionid: uSomeoneElse'
  check "$g: a token without a unionid: the client's own X-Auth-Unionid never reaches the backend" \
    test "$STATUS|$(seen X-Auth-Subject)|$(seen X-Auth-Unionid)" = "200|oNoUnionid000000000000000|"

  # Spellings with underscores, which CGI-style header names (WSGI, PHP)
  # read as the real ones.
  req "$G/api/orders" -H "Authorization: Bearer $NO_UNIONID_TOKEN" \
    -H 'X_Auth_Subject: oSomeoneElse' -H 'X-Auth_Appid: wxsomeoneelse00000' \
    -H 'x_auth-platform: qq' -H 'X_AUTH_UNIONID: uSomeoneElse'
  check "$g: underscore spellings of the identity headers never reach the backend" \
    test "$STATUS $(python3 -c 'import json,sys
print(sorted(n for n, v in json.load(open(sys.argv[1]))["headers"] if "_" in n))' "$T/body")" = "200 []"

  before=$(hits)
  "${CURL[@]}" -D "$T/head" -o "$T/body" "$G/api/orders" -H 'X-Auth-Subject: oSomeoneElse'
  STATUS=$(head -n1 "$T/head" | cut -d' ' -f2)
  check "$g: no token (but a forged X-Auth-Subject) gets 401" test "$STATUS" = 401
  check "$g: ... with wxauth's problem+json invalid_token" \
    test "$(header_of content-type) $(json "$T/body" code)" = "application/problem+json invalid_token"
  check "$g: ... and wxauth's WWW-Authenticate" test "$(header_of www-authenticate)" = 'Bearer realm="wxauth"'

  "${CURL[@]}" -D "$T/head" -o "$T/body" "$G/api/orders" -H "Authorization: Bearer $BAD"
  STATUS=$(head -n1 "$T/head" | cut -d' ' -f2)
  check "$g: a bad token gets 401 with exactly wxauth's body" \
    test "$STATUS $(cat "$T/body")" = "401 $(cat "$T/direct.body")"
  check "$g: ... and wxauth's WWW-Authenticate" \
    test "$(header_of www-authenticate)" = 'Bearer realm="wxauth", error="invalid_token"'
  "${CURL[@]}" -o /dev/null -X POST "$G/api/orders" -H "Authorization: Bearer $BAD" -d 'x=1'
  check "$g: no refused request reached the backend" test "$(hits)" = "$before"
}

# --- nginx ------------------------------------------------------------------------
if [ "$WHICH" != caddy ]; then
  say "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///')"
  NGINX_PORT=$(free_port)
  sed -e "s/127\.0\.0\.1:8080;\( *\)# @wxauth/${W#http://};\1# @wxauth/" \
    -e "s/127\.0\.0\.1:9000;\( *\)# @backend/127.0.0.1:$BACKEND_PORT;\1# @backend/" \
    -e "s/listen 80;\( *\)# @listen/listen 127.0.0.1:$NGINX_PORT;\1# @listen/" \
    "$HERE/forward-auth/nginx.conf" >"$T/nginx/forward-auth.conf"
  for want in "${W#http://};" "127.0.0.1:$BACKEND_PORT;" "listen 127.0.0.1:$NGINX_PORT;"; do
    grep -qF "$want" "$T/nginx/forward-auth.conf" || die "rendering forward-auth/nginx.conf: no $want"
  done
  cat >"$T/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    include $T/nginx/forward-auth.conf;
}
CONF
  check "nginx -t accepts the rendered forward-auth/nginx.conf" \
    "$NGINX" -q -t -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf"
  "$NGINX" -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" -g 'daemon off;' &
  PIDS+=($!)
  nginx_up() { "${CURL[@]}" -o /dev/null "http://127.0.0.1:$NGINX_PORT/"; }
  wait_for 10 nginx_up || die "nginx did not come up"
  checks nginx "http://127.0.0.1:$NGINX_PORT"

fi

# --- Caddy ------------------------------------------------------------------------
if [ "$WHICH" != nginx ]; then
  say "caddy $(caddy version | cut -d' ' -f1)"
  CADDY_PORT=$(free_port)
  # The Caddyfile as it is; the test adds only global options (no admin
  # endpoint, no state outside $T).
  printf '{\n\tadmin off\n}\nimport %s\n' "$HERE/forward-auth/Caddyfile" >"$T/caddy/Caddyfile"
  (cd "$T/caddy" && exec env HOME="$T/caddy" XDG_DATA_HOME="$T/caddy" XDG_CONFIG_HOME="$T/caddy" \
    SITE_ADDRESS="http://127.0.0.1:$CADDY_PORT" WXAUTH_UPSTREAM="${W#http://}" \
    BACKEND_UPSTREAM="127.0.0.1:$BACKEND_PORT" \
    caddy run --config "$T/caddy/Caddyfile" --adapter caddyfile) >"$T/caddy.log" 2>&1 &
  PIDS+=($!)
  caddy_up() { "${CURL[@]}" -o /dev/null "http://127.0.0.1:$CADDY_PORT/"; }
  wait_for 10 caddy_up || die "caddy did not come up"
  checks caddy "http://127.0.0.1:$CADDY_PORT"
fi

summary
[ "$FAILED" -eq 0 ]
