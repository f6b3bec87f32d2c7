#!/usr/bin/env bash
# deploy/test-nginx.sh: two wxauth replicas behind nginx, a key rotation by
# the README's runbook under continuous traffic, and not one failed request.
#
#   cargo build --release && bash deploy/test-nginx.sh
#
# Needs: the wxauth binary (WXAUTH_BIN, default target/release/wxauth; built
# with cargo if missing), curl, python3, and root or nginx already installed
# (it runs `apt-get install -y nginx` when nginx is missing). Everything runs
# on 127.0.0.1 with free ports, from a temporary folder, and stops within
# TEST_NGINX_TIMEOUT seconds (default 100). It never touches the system
# nginx: nginx runs with its own prefix and the config rendered from
# deploy/nginx/wxauth.conf. Ends with `N passed, M failed`; exit 0 only when
# M is 0. KEEP_TMP=1 keeps the temporary folder (logs) for a look.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${WXAUTH_BIN:-$ROOT/target/release/wxauth}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac   # the replicas run from elsewhere
CONF_SRC=$HERE/nginx/wxauth.conf
LIMIT=${TEST_NGINX_TIMEOUT:-100}
CURL=(curl -s --max-time 5)

PASSED=0
FAILED=0
T=""
SERVERS=()     # the replicas, stopped by cleanup
LOOPS=()       # the load loops, which end on $T/stop
NGINX_PID=""
URL_a="" URL_b="" PID_a="" PID_b=""   # set by start_replica
WATCHDOG=""

say() { printf '\n== %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); printf 'ok    %s\n' "$*"; }
bad() { FAILED=$((FAILED + 1)); printf 'FAIL  %s\n' "$*"; }
# check DESCRIPTION COMMAND...: one counted check.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else bad "$desc"; fi
}
summary() { printf '%d passed, %d failed\n' "$PASSED" "$FAILED"; }
# die MESSAGE: a setup step failed; nothing after it can be checked.
die() {
  bad "$*"
  show_logs
  summary
  exit 1
}
show_logs() {
  [ -n "$T" ] && [ -d "$T" ] || return 0
  local f
  for f in "$T"/a.log "$T"/b.log "$T"/nginx/error.log; do
    [ -s "$f" ] || continue
    printf -- '--- last lines of %s\n' "${f#"$T"/}"
    tail -n 15 "$f"
  done
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  if [ -n "$T" ] && [ -d "$T" ]; then touch "$T/stop"; fi
  if [ -n "$WATCHDOG" ]; then kill "$WATCHDOG" 2>/dev/null || true; fi
  # Servers first: the load loops' requests then fail at once and the loops,
  # seeing $T/stop, end by themselves.
  if [ -n "$NGINX_PID" ]; then kill -TERM "$NGINX_PID" 2>/dev/null || true; fi
  for p in "${SERVERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${LOOPS[@]}" "${SERVERS[@]}" $NGINX_PID $WATCHDOG; do
    wait "$p" 2>/dev/null || true
  done
  if [ -n "$T" ] && [ -d "$T" ]; then
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'bad "finished within ${LIMIT}s (TEST_NGINX_TIMEOUT)"; show_logs; summary; exit 124' TERM

# --- what a clean machine may lack -------------------------------------------
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$BIN" ]; then
  say "building wxauth"
  (cd "$ROOT" && cargo build --release --quiet)
fi

# The clock starts now (the install and build above are not bounded here).
( trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  sleep "$LIMIT" & sp=$!
  wait "$sp"
  kill -TERM $$ 2>/dev/null ) &
WATCHDOG=$!

T=$(mktemp -d /tmp/wxauth-nginx.XXXXXX)
KEYS=$T/keys
mkdir -p "$KEYS" "$T/nginx/tmp" "$T/tls"
chmod 711 "$T"   # nginx workers (nobody) reach their temp folders

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# jwt_header TOKEN FIELD: a field of the token's (unverified) header.
jwt_header() {
  python3 -c 'import sys,json,base64
h=sys.argv[1].split(".")[0]; h+="="*(-len(h)%4)
print(json.loads(base64.urlsafe_b64decode(h)).get(sys.argv[2],""))' "$1" "$2"
}
# json FILE FIELD: a top-level field of a JSON document ("" when absent).
json() {
  python3 -c 'import sys,json
try: v=json.load(open(sys.argv[1])).get(sys.argv[2])
except Exception: v=None
print("" if v is None else (json.dumps(v) if isinstance(v,(dict,list)) else v))' "$1" "$2"
}
# req [curl args...]: one request; sets STATUS, the body is in $T/body.
req() {
  STATUS=$("${CURL[@]}" -o "$T/body" -w '%{http_code}' "$@") || STATUS=000
}
# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local until=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$until" ] || return 1
    sleep 0.1
  done
}

# --- keys: the first key, pinned ---------------------------------------------
say "keys"
K1=$("$BIN" keygen --dir "$KEYS" 2>/dev/null) || die "wxauth keygen"
echo "$K1" >"$KEYS/signing-kid"
check "keygen wrote $K1.pem (mode 0600)" \
  test "$(stat -c %a "$KEYS/$K1.pem" 2>/dev/null)" = 600

# --- two replicas --------------------------------------------------------------
# start_replica NAME [VAR=VALUE...]: a replica on a free loopback port, run
# from $T so no .env file is picked up; sets URL_<NAME> and PID_<NAME>.
start_replica() {
  local name=$1 pid url log=$T/$1.log
  shift
  (cd "$T" && exec env -u WECHAT_APPID -u WECHAT_SECRET -u WXAUTH_SIGNING_KID \
    -u WECHAT_API_BASE WXAUTH_BIND=127.0.0.1:0 WXAUTH_KEYS_DIR="$KEYS" \
    WXAUTH_KEYS_RELOAD=3600 WXAUTH_SHUTDOWN_TIMEOUT=2 RUST_LOG=info "$@" \
    "$BIN" serve) 2>"$log" &
  pid=$!
  SERVERS+=("$pid")
  wait_for 10 grep -q 'listening on http://' "$log" || die "replica $name did not start"
  url=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | head -n1 | sed 's/listening on //')
  printf -v "URL_$name" '%s' "$url"
  printf -v "PID_$name" '%s' "$pid"
}
say "replicas"
start_replica a
# Both exchange codes with replica a's simulator, so a code from /sim/login
# works whichever replica nginx sends /auth/login to.
start_replica b WECHAT_API_BASE="$URL_a/sim"
echo "replica a: $URL_a (pid $PID_a), replica b: $URL_b (pid $PID_b)"
for r in a b; do
  u=URL_$r
  req "${!u}/readyz"
  check "replica $r ready, signing with $K1" \
    test "$STATUS $(json "$T/body" status) $(json "$T/body" signing_kid)" = "200 ready $K1"
done

# --- nginx, from deploy/nginx/wxauth.conf ---------------------------------------
say "nginx"
HTTPS_PORT=$(free_port)
HTTP_PORT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" 2>/dev/null || die "openssl: test certificate"
python3 - "$CONF_SRC" "$T/nginx/wxauth.conf" <<PY || die "rendering $CONF_SRC"
import re, sys
src, dst = sys.argv[1], sys.argv[2]
out, replicas_done = [], False
for line in open(src):
    m = re.search(r"#\s*(@[a-z-]+)\s*$", line)
    mark = m.group(1) if m else ""
    if mark == "@replica":
        # The first replica line is the template for the test's two.
        if not replicas_done:
            replicas_done = True
            for u in ["${URL_a#http://}", "${URL_b#http://}"]:
                out.append(re.sub(r"server\s+[^\s;]+", "server " + u, line, count=1))
    elif mark in ("@listen-http", "@listen-https"):
        # Same flags (ssl, http2), the test's address; no IPv6 here.
        if "[::]" not in line:
            port = "$HTTP_PORT" if mark == "@listen-http" else "$HTTPS_PORT"
            out.append(re.sub(r"listen\s+[^\s;]+", "listen 127.0.0.1:" + port, line, count=1))
    elif mark == "@tls-cert":
        out.append("    ssl_certificate $T/tls/cert.pem;\n")
    elif mark == "@tls-key":
        out.append("    ssl_certificate_key $T/tls/key.pem;\n")
    elif mark == "@access-log":
        out.append("    access_log $T/nginx/access.log wxauth_access;\n")
    elif mark == "@error-log":
        out.append("    error_log $T/nginx/error.log warn;\n")
    elif mark == "@sim":
        pass
    elif mark == "@test-routes":
        # Test only: the simulator (a's, the one both replicas ask) and which
        # replica answered.
        out.append("    location ^~ /sim/ { proxy_pass $URL_a; }\n")
        out.append("    add_header X-Upstream \$upstream_addr always;\n")
    else:
        out.append(line)
assert replicas_done, "no '# @replica' line"
open(dst, "w").write("".join(out))
PY
cat >"$T/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 512; }
http {
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    include $T/nginx/wxauth.conf;
}
EOF
check "nginx -t accepts the rendered deploy/nginx/wxauth.conf" \
  "$NGINX" -q -t -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf"
"$NGINX" -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
N=https://127.0.0.1:$HTTPS_PORT
CURL+=(--cacert "$T/tls/cert.pem")
nginx_up() {
  kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited"
  [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$N/healthz")" = 200 ]; }
wait_for 10 nginx_up || die "nginx did not come up on $N"
echo "nginx: $N (pid $NGINX_PID)"

# --- through nginx -----------------------------------------------------------------
say "through nginx"
req "$N/readyz"
check "GET /readyz: 200 ready, signing $K1" \
  test "$STATUS $(json "$T/body" status) $(json "$T/body" signing_kid)" = "200 ready $K1"
req "http://127.0.0.1:$HTTP_PORT/auth/me?x=1"
check "plain HTTP redirects to HTTPS (301)" test "$STATUS" = 301
req "$N/metrics"
check "GET /metrics is not published (403)" test "$STATUS" = 403

# login USER: /sim/login then /auth/login through nginx; prints the token.
login() {
  local code
  code=$("${CURL[@]}" -X POST "$N/sim/login" -H 'Content-Type: application/json' \
    -d "{\"user\":\"$1\"}" | sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
  [ -n "$code" ] || return 1
  echo "$code" >"$T/last-code"
  "${CURL[@]}" -X POST "$N/auth/login" -H 'Content-Type: application/json' \
    -d "{\"code\":\"$code\"}" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
T1=$(login alice) || true
check "login through nginx (/sim/login + /auth/login) gives a token" test -n "$T1"
[ -n "$T1" ] || die "no token, cannot go on"
check "the token's kid is $K1" test "$(jwt_header "$T1" kid)" = "$K1"
req -X POST "$N/auth/login" -H 'Content-Type: application/json' -d "{\"code\":\"$(cat "$T/last-code")\"}"
check "a code works once, whichever replica gets it: 400 code_used" \
  test "$STATUS $(json "$T/body" code)" = "400 code_used"
req "$N/auth/me" -H "Authorization: Bearer $T1"
OPENID=$(json "$T/body" openid)
check "GET /auth/me: 200 with an openid" test "$STATUS" = 200 -a -n "$OPENID"
req "$N/auth/me"
check "GET /auth/me without a token: 401 problem+json from wxauth" \
  test "$STATUS $(json "$T/body" code)" = "401 invalid_token"

: >"$T/upstreams"
for _ in $(seq 20); do
  "${CURL[@]}" -o /dev/null -D - "$N/auth/me" -H "Authorization: Bearer $T1" |
    tr -d '\r' | sed -n 's/^[Xx]-[Uu]pstream: //p' >>"$T/upstreams"
done
check "20 guarded requests answered by both replicas (X-Upstream: $(sort -u "$T/upstreams" | tr '\n' ' '))" \
  test "$(sort -u "$T/upstreams" | grep -c .)" -ge 2
for r in a b; do
  check "replica $r's own access log shows GET /auth/me 200" \
    grep -q '"GET /auth/me" 200' "$T/$r.log"
done

head -c 5000 /dev/zero | tr '\0' 'x' >"$T/5k"
req -X POST "$N/auth/login" -H 'Content-Type: application/json' --data-binary @"$T/5k"
check "a 5 KiB login body: wxauth's own 413 payload_too_large" \
  test "$STATUS $(json "$T/body" code)" = "413 payload_too_large"
head -c 70000 /dev/zero | tr '\0' 'x' >"$T/70k"
req -X POST "$N/wx/decrypt" -H 'Content-Type: application/json' --data-binary @"$T/70k"
check "a 70 KiB body: nginx's 413 in the same problem+json form" \
  test "$STATUS $(json "$T/body" code)" = "413 payload_too_large"

# --- rotation under load ----------------------------------------------------
# Each loop writes one line per request, "STATUS what", to its own file.
# The guarded loop reads "GEN TOKEN" from $T/token at the start of each batch
# and writes the GEN of each finished batch to $T/me-done.
me_loop() {
  local gen tok args n=0
  while [ ! -e "$T/stop" ] && [ ! -e "$T/stop-me" ] && [ $((n += 1)) -le 3000 ]; do
    read -r gen tok <"$T/token"
    args=()
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      args+=(-o /dev/null "$N/auth/me")
    done
    "${CURL[@]}" -H "Authorization: Bearer $tok" -w '%{stderr}%{http_code} me\n' "${args[@]}" \
      2>>"$T/results.me" || true
    echo "$gen" >"$T/me-done"
  done
}
# The login loop: log in, renew, read with the new token, as a client does.
login_loop() {
  local stop=$1 out=$2 code tok tok2 st n=0
  while [ ! -e "$T/stop" ] && [ ! -e "$stop" ] && [ $((n += 1)) -le 1000 ]; do
    code=$("${CURL[@]}" -X POST "$N/sim/login" -H 'Content-Type: application/json' \
      -d '{"user":"bob"}' | sed -n 's/.*"code":"\([^"]*\)".*/\1/p') || true
    [ -n "$code" ] && st=200 || st=000
    echo "$st sim_login" >>"$out"
    st=$("${CURL[@]}" -o "$out.login" -w '%{http_code}' -X POST "$N/auth/login" \
      -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}") || st=000
    echo "$st login" >>"$out"
    tok=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$out.login")
    st=$("${CURL[@]}" -o "$out.refresh" -w '%{http_code}' -X POST "$N/auth/refresh" \
      -H "Authorization: Bearer $tok") || st=000
    echo "$st refresh" >>"$out"
    tok2=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$out.refresh")
    st=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$N/auth/me" \
      -H "Authorization: Bearer $tok2") || st=000
    echo "$st me_after_refresh" >>"$out"
  done
}
hup_both() { kill -HUP "$PID_a" "$PID_b"; }
jwks_has() { "${CURL[@]}" "$1/.well-known/jwks.json" | grep -q "\"kid\":\"$2\""; }
signs() { [ "$("${CURL[@]}" "$1/readyz" | sed -n 's/.*"signing_kid":"\([^"]*\)".*/\1/p')" = "$2" ]; }
not() { ! "$@"; }

say "rotation under load"
echo "1 $T1" >"$T/token"
me_loop &
LOOPS+=($!)
ME_PID=$!
login_loop "$T/stop-login1" "$T/results.login1" &
LOOPS+=($!)
LOGIN1_PID=$!
sleep 1

# 1. Publish: the new key (another algorithm, and a kid that sorts last, so
#    only the pin keeps the old one signing).
K2=$("$BIN" keygen --dir "$KEYS" --alg es256 --kid "$(date -u -d '+1 year' +%Y%m%dT%H%M%SZ)" 2>/dev/null) ||
  die "wxauth keygen (new key)"
hup_both
for r in a b; do
  u=URL_$r
  check "publish: replica $r lists $K2 in its JWK Set after SIGHUP" wait_for 10 jwks_has "${!u}" "$K2"
  check "publish: replica $r still signs with the pinned $K1" signs "${!u}" "$K1"
done
sleep 1

# 2. Promote.
echo "$K2" >"$KEYS/signing-kid"
hup_both
for r in a b; do
  u=URL_$r
  check "promote: replica $r signs with $K2 after SIGHUP" wait_for 10 signs "${!u}" "$K2"
done
req -X POST "$N/auth/refresh" -H "Authorization: Bearer $T1"
T2=$(json "$T/body" access_token)
check "POST /auth/refresh with the old token: 200" test "$STATUS" = 200 -a -n "$T2"
check "the refreshed token's kid is $K2 (alg ES256)" \
  test "$(jwt_header "$T2" kid) $(jwt_header "$T2" alg)" = "$K2 ES256"
echo "2 $T2" >"$T/token.new" && mv "$T/token.new" "$T/token"
T3=$(login carol) || true
check "a new login is signed with $K2" test "$(jwt_header "${T3:-x.x.x}" kid)" = "$K2"
check "the guarded loop moved to the refreshed token" \
  wait_for 15 grep -qx 2 "$T/me-done"
# Fresh logins and their refreshes are all signed by K2 from here on; stop
# the loop that may still hold a K1 token before K1 goes.
touch "$T/stop-login1"
wait "$LOGIN1_PID" || true
login_loop "$T/stop-login2" "$T/results.login2" &
LOOPS+=($!)
LOGIN2_PID=$!
sleep 1

# 3. Retire.
rm "$KEYS/$K1.pem"
hup_both
for r in a b; do
  u=URL_$r
  check "retire: replica $r dropped $K1 from its JWK Set after SIGHUP" \
    wait_for 10 not jwks_has "${!u}" "$K1"
done
sleep 2
touch "$T/stop-me" "$T/stop-login2"
wait "$ME_PID" "$LOGIN2_PID" || true
cat "$T/results.me" "$T/results.login1" "$T/results.login2" >"$T/results"

TOTAL=$(grep -c . "$T/results" || true)
NON2XX=$(grep -vc '^2' "$T/results" || true)
check "requests during the rotation: $TOTAL, at least 200" test "$TOTAL" -ge 200
check "non-2xx answers during the rotation: $NON2XX (must be 0)" test "$NON2XX" -eq 0
if [ "$NON2XX" -ne 0 ]; then grep -v '^2' "$T/results" | sort | uniq -c | head; fi
check "logins during the rotation: $(grep -c ' login$' "$T/results" || true), at least 5" \
  test "$(grep -c ' login$' "$T/results" || true)" -ge 5

# --- after the rotation -------------------------------------------------------------
say "after the rotation"
old_refused=0
for _ in 1 2 3 4; do
  req "$N/auth/me" -H "Authorization: Bearer $T1"
  [ "$STATUS $(json "$T/body" code)" = "401 invalid_token" ] && old_refused=$((old_refused + 1))
done
check "the old-key token is refused through nginx (4 of 4: 401 invalid_token)" test "$old_refused" = 4
req -X POST "$N/auth/refresh" -H "Authorization: Bearer $T1"
check "the old-key token cannot be refreshed any more (401)" test "$STATUS" = 401
for r in a b; do
  u=URL_$r
  req "${!u}/auth/me" -H "Authorization: Bearer $T1"
  check "replica $r refuses the old-key token (401)" test "$STATUS" = 401
  req "${!u}/auth/me" -H "Authorization: Bearer $T2"
  check "replica $r accepts the refreshed token (200, same openid)" \
    test "$STATUS $(json "$T/body" openid)" = "200 $OPENID"
done
req "$N/auth/me" -H "Authorization: Bearer $T2"
check "the refreshed token works through nginx" test "$STATUS" = 200

# --- logs ------------------------------------------------------------------------------
say "logs"
req "$N/auth/me?code=QUERYMARKER123" -H "Authorization: Bearer $T2"
sleep 0.2
check "nginx logged requests with their upstream" grep -q 'upstream=127.0.0.1:' "$T/nginx/access.log"
check "nginx's access log holds no query string" not grep -q QUERYMARKER123 "$T/nginx/access.log"
no_tokens() {
  local f
  for f in "$@"; do
    grep -qF -e "${T1##*.}" -e "${T2##*.}" -e "${T1%%.*}." -e "Bearer ey" "$f" && return 1
  done
  return 0
}
check "no token or Authorization value in nginx's or the replicas' logs" \
  no_tokens "$T/nginx/access.log" "$T/nginx/error.log" "$T/a.log" "$T/b.log"
check "nginx's error log has no upstream errors" \
  not grep -qE 'upstream|connect\(\) failed|prematurely' "$T/nginx/error.log"

summary
[ "$FAILED" -eq 0 ]
