#!/usr/bin/env bash
# deploy/test-nginx.sh: two wxauth replicas behind nginx, a key rotation by
# the README's runbook (through the activation delay) under continuous
# traffic with not one failed request, a ban applied by both replicas, and
# what nginx adds at the edge: rate and connection limits per address, 415
# for compressed bodies, slow clients cut off before they reach a replica.
#
#   cargo build --release && bash deploy/test-nginx.sh
#
# Needs: the wxauth binary (WXAUTH_BIN, default target/release/wxauth; built
# with cargo if missing), curl, python3, and root or nginx already installed
# (it runs `apt-get install -y nginx` when nginx is missing). Everything runs
# on 127.0.0.1 with free ports (the edge checks connect from other loopback
# addresses, 127.0.0.2 and up, to be other clients), from a temporary
# folder, and stops within TEST_NGINX_TIMEOUT seconds (default 100; it takes
# about 30). It never touches the system
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

START=$SECONDS
T=""
SERVERS=()     # the replicas, stopped by cleanup
LOOPS=()       # the load loops, which end on $T/stop
NGINX_PID=""
URL_a="" URL_b="" PID_a="" PID_b=""   # set by start_replica
WATCHDOG=""

say() { printf '\n== %s (at %ds)\n' "$*" "$((SECONDS - START))"; }
# Counted checks, the watchdog and small helpers, shared with the other
# deploy suites.
. "$HERE/testlib.sh"
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
START=$SECONDS
start_watchdog "$LIMIT"

T=$(mktemp -d /tmp/wxauth-nginx.XXXXXX)
KEYS=$T/keys
REVOCATIONS=$T/revocations
mkdir -p "$KEYS" "$T/nginx/tmp" "$T/tls"
chmod 711 "$T"   # nginx workers (nobody) reach their temp folders
echo '# wxauth revocations (deploy/test-nginx.sh)' >"$REVOCATIONS"

# What the replicas and nginx run with, shortened or lowered so the test can
# wait them out or exceed them in seconds, with counts that hold whatever
# the machine's speed (see "rate limits" below).
DELAY=5          # WXAUTH_KEY_ACTIVATION_DELAY (default 600)
CLIENT_RATE=2    # WXAUTH_CLIENT_RATE per replica: burst 10 (default 20, burst 100)
NGINX_RATE=5     # limit_req_zone rate, r/s (wxauth.conf: 20)
NGINX_BURST=50   # limit_req burst (wxauth.conf: 100)
NGINX_CONN=5     # limit_conn per address (wxauth.conf: 100)
NGINX_TIMEOUT=2  # client_header_timeout, client_body_timeout (wxauth.conf: 10s)

# jwt_header TOKEN FIELD: a field of the token's (unverified) header.
jwt_header() {
  python3 -c 'import sys,json,base64
h=sys.argv[1].split(".")[0]; h+="="*(-len(h)%4)
print(json.loads(base64.urlsafe_b64decode(h)).get(sys.argv[2],""))' "$1" "$2"
}

# --- keys: the first key, not pinned (a fresh folder signs at once) -------------
say "keys"
K1=$("$BIN" keygen --dir "$KEYS" 2>/dev/null) || die "wxauth keygen"
check "keygen wrote $K1.pem (mode 0600)" \
  test "$(stat -c %a "$KEYS/$K1.pem" 2>/dev/null)" = 600

# --- two replicas --------------------------------------------------------------
# start_replica NAME [VAR=VALUE...]: a replica on a free loopback port, run
# from $T so no .env file is picked up; sets URL_<NAME> and PID_<NAME>. All
# share the key folder and the revocation file, rescanned every second.
start_replica() {
  local name=$1 pid url log=$T/$1.log
  shift
  (cd "$T" && exec env -u WECHAT_APPID -u WECHAT_SECRET -u WXAUTH_SIGNING_KID \
    -u WECHAT_API_BASE -u WXAUTH_TRUSTED_PROXIES -u WXAUTH_CLIENT_TIMEOUT \
    WXAUTH_BIND=127.0.0.1:0 WXAUTH_KEYS_DIR="$KEYS" \
    WXAUTH_KEYS_RELOAD=1 WXAUTH_KEY_ACTIVATION_DELAY=$DELAY \
    WXAUTH_REVOCATIONS_FILE="$REVOCATIONS" WXAUTH_CLIENT_RATE=$CLIENT_RATE \
    WXAUTH_SHUTDOWN_TIMEOUT=2 RUST_LOG=info "$@" \
    "$BIN" serve) 2>"$log" &
  pid=$!
  SERVERS+=("$pid")
  wait_for 10 grep -qs 'listening on http://' "$log" || die "replica $name did not start"
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
    elif mark in ("@client-header-timeout", "@client-body-timeout"):
        out.append(re.sub(r"\s\d+s;", " ${NGINX_TIMEOUT}s;", line, count=1))
    elif mark == "@limit-req-zone":
        out.append(re.sub(r"rate=\d+r/s", "rate=${NGINX_RATE}r/s", line, count=1))
    elif mark == "@limit-req":
        out.append(re.sub(r"burst=\d+", "burst=$NGINX_BURST", line, count=1))
    elif mark == "@limit-conn":
        out.append(re.sub(r"\s\d+;", " $NGINX_CONN;", line, count=1))
    elif mark == "@test-routes":
        # Test only: the simulator (a's, the one both replicas ask) and which
        # replica answered.
        out.append("    location ^~ /sim/ { proxy_pass $URL_a; }\n")
        out.append("    add_header X-Upstream \$upstream_addr always;\n")
    else:
        out.append(line)
assert replicas_done, "no '# @replica' line"
text = "".join(out)
for want in ("client_body_timeout ${NGINX_TIMEOUT}s;", "client_header_timeout ${NGINX_TIMEOUT}s;",
             "rate=${NGINX_RATE}r/s", "burst=$NGINX_BURST", "limit_conn wxauth_conn $NGINX_CONN;"):
    assert want in text, "no marked line became " + want
open(dst, "w").write(text)
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

# A compressed body: nginx answers 415 itself (no X-Upstream: no replica saw
# it), in wxauth's form; a replica asked directly answers the same.
printf '{"code":"%s"}' "$(head -c 600 /dev/zero | tr '\0' 'a')" | gzip -c >"$T/body.gz"
# hdr NAME: a header of the last `req -D "$T/head"` answer ("" when absent).
hdr() { tr -d '\r' <"$T/head" | sed -n "s/^$1: //Ip" | tail -n1; }
req -D "$T/head" -X POST "$N/auth/login" -H 'Content-Type: application/json' \
  -H 'Content-Encoding: gzip' --data-binary @"$T/body.gz"
check "a gzip body through nginx: 415 unsupported_media_type, answered by nginx" \
  test "$STATUS $(json "$T/body" code) [$(hdr X-Upstream)]" = "415 unsupported_media_type []"
req -X POST "$URL_a/auth/login" -H 'Content-Type: application/json' \
  -H 'Content-Encoding: gzip' --data-binary @"$T/body.gz"
check "the same body to a replica directly: wxauth's own 415 unsupported_media_type" \
  test "$STATUS $(json "$T/body" code)" = "415 unsupported_media_type"
req -D "$T/head" -X POST "$N/auth/refresh" -H 'Content-Encoding: identity' -d '{}'
check "Content-Encoding: identity passes nginx (wxauth's 401, not 415)" \
  test "$STATUS $(json "$T/body" code)" = "401 invalid_token" -a -n "$(hdr X-Upstream)"

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
# The login loop: log in, renew, read with the new token, as a client does;
# one round a second, so its two rate-limited requests (login, refresh) stay
# within WXAUTH_CLIENT_RATE=2 even if every one of them lands on the same
# replica.
login_loop() {
  local stop=$1 out=$2 code tok tok2 st n=0
  while [ ! -e "$T/stop" ] && [ ! -e "$stop" ] && [ $((n += 1)) -le 1000 ]; do
    [ "$n" -eq 1 ] || sleep 1
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
# readyz URL: "SIGNING_KID NEXT_KID NEXT_FROM" from /readyz ("-" when absent;
# sed, not python, so that it answers in milliseconds).
readyz() {
  local body sk nk nf
  body=$("${CURL[@]}" "$1/readyz") || true
  sk=$(sed -n 's/.*"signing_kid":"\([^"]*\)".*/\1/p' <<<"$body")
  nk=$(sed -n 's/.*"next_signing":{[^}]*"kid":"\([^"]*\)".*/\1/p' <<<"$body")
  nf=$(sed -n 's/.*"next_signing":{[^}]*"from":"\([^"]*\)".*/\1/p' <<<"$body")
  echo "${sk:--} ${nk:--} ${nf:--}"
}

say "rotation under load"
echo "1 $T1" >"$T/token"
me_loop &
LOOPS+=($!)
ME_PID=$!
login_loop "$T/stop-login1" "$T/results.login1" &
LOOPS+=($!)
LOGIN1_PID=$!
sleep 1

# 1. Publish: the new key (another algorithm, and a kid that sorts last), no
#    pin and no SIGHUP: each replica finds it within a rescan
#    (WXAUTH_KEYS_RELOAD=1) and verifies with it at once, but signs with it
#    only once its file is WXAUTH_KEY_ACTIVATION_DELAY old.
K2=$("$BIN" keygen --dir "$KEYS" --alg es256 --kid "$(date -u -d '+1 year' +%Y%m%dT%H%M%SZ)" 2>/dev/null) ||
  die "wxauth keygen (new key)"
FROM=$(($(stat -c %Y "$KEYS/$K2.pem") + DELAY))
FROM_UTC=$(date -u -d "@$FROM" +%Y-%m-%dT%H:%M:%SZ)   # as /readyz says it
for r in a b; do
  u=URL_$r
  check "publish: replica $r lists $K2 in its JWK Set within a rescan (no SIGHUP)" \
    wait_for 5 jwks_has "${!u}" "$K2"
done
for r in a b; do
  u=URL_$r
  read -r sk nk nf <<<"$(readyz "${!u}")"
  # A running replica counts from when it first saw the file as well as
  # from the file's time: next_signing is the later of the two plus the
  # delay, so within a rescan (1 s) and a second of slack of file time +
  # delay, never before it.
  nf_epoch=$(date -u -d "${nf:-1970-01-01T00:00:00Z}" +%s 2>/dev/null || echo 0)
  check "publish: replica $r still signs with $K1; /readyz next_signing: $nk from $nf (file time + ${DELAY}s: $FROM_UTC, or up to 3 s later: its sighting)" \
    test "$sk $nk" = "$K1 $K2" -a "$nf_epoch" -ge "$FROM" -a "$nf_epoch" -le $((FROM + 3))
done

# A token of the new key before anyone signs with it (from a third replica,
# pinned to it, on the side: as a replica already past the delay would be).
start_replica c WXAUTH_SIGNING_KID="$K2"
code=$("${CURL[@]}" -X POST "$URL_c/sim/login" -H 'Content-Type: application/json' \
  -d '{"user":"dave"}' | sed -n 's/.*"code":"\([^"]*\)".*/\1/p') || true
req -X POST "$URL_c/auth/login" -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}"
TD=$(json "$T/body" access_token)
kill -TERM "$PID_c" 2>/dev/null || true
wait "$PID_c" 2>/dev/null || true
check "a token signed with $K2 (by a third replica pinned to it)" \
  test "$(jwt_header "${TD:-x.x.x}" kid)" = "$K2"
for r in a b; do
  u=URL_$r
  req "${!u}/auth/me" -H "Authorization: Bearer $TD"
  st=$STATUS
  check "publish: replica $r verifies the $K2 token at once (200) while it signs with $(readyz "${!u}" | cut -d' ' -f1)" \
    test "$st" = 200
done

# 2. Activate: no step at all, only time. Each replica is polled until it
#    signs with the new key; the first answer naming it must come no earlier
#    than next_signing's time, and no later than a rescan after it.
declare -A SWITCHED=()
POLL0=$(date +%s.%N)
until_t=$((SECONDS + DELAY + 10))
while [ "${#SWITCHED[@]}" -lt 2 ] && [ "$SECONDS" -lt "$until_t" ]; do
  for r in a b; do
    u=URL_$r
    if [ -z "${SWITCHED[$r]:-}" ] && signs "${!u}" "$K2"; then SWITCHED[$r]=$(date +%s.%N); fi
  done
  sleep 0.1
done
for r in a b; do
  at=${SWITCHED[$r]:-}
  check "activate: replica $r signs with $K2 ${at:+at next_signing $(python3 -c "print('%+.1fs' % ($at - $FROM))")}, not before, and within 3 s after" \
    python3 -c "import sys; sys.exit(not ('$at' and $FROM <= float('$at') <= max($FROM, $POLL0) + 3))"
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

# 3. Retire (SIGHUP, as `systemctl reload` would).
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

# --- a pin promotes at once ---------------------------------------------------------
# The leaked-key path: a new key, pinned (signing-kid), signs at once with no
# delay; its kid sorts before the current one, so only the pin can do it.
say "a pin promotes at once"
K3=$("$BIN" keygen --dir "$KEYS" 2>/dev/null) || die "wxauth keygen (pinned key)"
echo "$K3" >"$KEYS/signing-kid"
hup_both
for r in a b; do
  u=URL_$r
  check "replica $r signs with the pinned $K3 after SIGHUP, no delay" wait_for 5 signs "${!u}" "$K3"
  check "replica $r: /readyz names no next_signing under a pin" \
    test "$(readyz "${!u}" | cut -d' ' -f2)" = -
done
T4=$(login carol) || true
check "a login through nginx is signed with $K3" test "$(jwt_header "${T4:-x.x.x}" kid)" = "$K3"

# --- a ban on both replicas -----------------------------------------------------------
# One revocation file shared by both replicas (WXAUTH_REVOCATIONS_FILE),
# edited by the CLI; each replica rereads it with its keys, every second here.
say "a ban on both replicas"
TE=$(login eve) || true
req "$N/auth/me" -H "Authorization: Bearer $TE"
EVE=$(json "$T/body" openid)
check "eve logs in through nginx (openid $EVE)" test "$STATUS" = 200 -a -n "$EVE"
# me_status URL TOKEN: the status of GET /auth/me.
me_status() { "${CURL[@]}" -o /dev/null -w '%{http_code}' "$1/auth/me" -H "Authorization: Bearer $2"; }
refused_by() { [ "$(me_status "$1" "$2")" = 401 ]; }
accepted_by() { [ "$(me_status "$1" "$2")" = 200 ]; }
# through_nginx WANT TOKEN: four requests through nginx (both replicas), all WANT.
through_nginx() {
  local n=0
  for _ in 1 2 3 4; do [ "$(me_status "$N" "$2")" = "$1" ] && n=$((n + 1)); done
  [ "$n" = 4 ]
}
WXAUTH_REVOCATIONS_FILE=$REVOCATIONS "$BIN" ban "$EVE" >"$T/ban.out" 2>&1 || true
check "wxauth ban $EVE: the line in the shared file" grep -qx "ban $EVE" "$REVOCATIONS"
for r in a b; do
  u=URL_$r
  check "ban: replica $r refuses eve's token (401) within a rescan" wait_for 5 refused_by "${!u}" "$TE"
done
check "ban: eve's token gets 401 through nginx (4 of 4)" through_nginx 401 "$TE"
req -X POST "$N/auth/refresh" -H "Authorization: Bearer $TE"
check "ban: eve's token cannot be refreshed (401 invalid_token)" \
  test "$STATUS $(json "$T/body" code)" = "401 invalid_token"
code=$("${CURL[@]}" -X POST "$N/sim/login" -H 'Content-Type: application/json' \
  -d '{"user":"eve"}' | sed -n 's/.*"code":"\([^"]*\)".*/\1/p') || true
req -X POST "$N/auth/login" -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}"
check "ban: eve's login through nginx: 403 user_blocked" \
  test "$STATUS $(json "$T/body" code)" = "403 user_blocked"
check "ban: other users are untouched (alice's token: 200 through nginx)" through_nginx 200 "$T2"
WXAUTH_REVOCATIONS_FILE=$REVOCATIONS "$BIN" unban "$EVE" >>"$T/ban.out" 2>&1 || true
check "wxauth unban $EVE: the line gone" not grep -q "$EVE" "$REVOCATIONS"
for r in a b; do
  u=URL_$r
  check "unban: replica $r accepts eve's token again (200) within a rescan" wait_for 5 accepted_by "${!u}" "$TE"
done
check "unban: eve's token works through nginx (4 of 4)" through_nginx 200 "$TE"
TE2=$(login eve) || true
check "unban: eve logs in again through nginx" test -n "$TE2"

# --- rate limits ------------------------------------------------------------------------
# Each client address below is fresh (127.0.0.x, x >= 2), so every count
# starts full. nginx keys limit_req on the address it sees and overwrites
# X-Forwarded-For with it; wxauth takes the client from X-Forwarded-For
# (nginx, 127.0.0.1, is a trusted proxy), so both count the same client.
#
# Why the counts hold whatever the machine's speed: each replica lets one
# client make 10 + 2t requests in t seconds (CLIENT_RATE=2, burst 10), so
# two replicas at most 2 * (11 + 2t) = 22 + 4t between them; nginx lets it
# make 51 + 5t (NGINX_RATE=5, burst 50). 22 + 4t < 51 + 5t for any t, so
# the first 429 is wxauth's, and nginx's comes once requests outpace 5 a
# second (each takes milliseconds; allowed: 200 ms).
say "rate limits"
cat >"$T/edge.py" <<'EDGE'
"""deploy/test-nginx.sh's raw clients: bursts from one source address, and
slow clients. Each prints its findings as `key value` lines (nested keys
joined with dots), for the shell to read in one go."""
import http.client, json, socket, ssl, sys, time

def emit(value, key=""):
    if isinstance(value, dict):
        for k, v in value.items():
            emit(v, key + "." + k if key else k)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            emit(v, "%s.%d" % (key, i))
    elif value is not None:
        print(key, value)

def ctx(cafile):
    c = ssl.create_default_context(cafile=cafile)
    c.set_alpn_protocols(["http/1.1"])
    return c

def burst(host, port, cafile, src, method, path, n, xff, stop_first):
    conn = http.client.HTTPSConnection(host, int(port), context=ctx(cafile),
                                       source_address=(src, 0), timeout=5)
    out = {"sent": 0, "wxauth_429": None, "nginx_429": None, "statuses": {}}
    began = time.monotonic()
    for i in range(1, int(n) + 1):
        headers = {"Content-Type": "application/json"}
        if xff:
            headers["X-Forwarded-For"] = "198.51.100.%d" % (i % 250 + 1)
        try:
            conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
            r = conn.getresponse()
            body = r.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            out["statuses"]["error"] = out["statuses"].get("error", 0) + 1
            continue
        out["sent"] = i
        out["statuses"][str(r.status)] = out["statuses"].get(str(r.status), 0) + 1
        if r.status == 429:
            try:
                code = json.loads(body).get("code")
            except ValueError:
                code = None
            seen = {"at": i, "retry_after": r.getheader("Retry-After"), "code": code,
                    "type": r.getheader("Content-Type")}
            if r.getheader("X-Upstream"):
                out["wxauth_429"] = out["wxauth_429"] or seen
            else:
                out["nginx_429"] = out["nginx_429"] or seen
            if stop_first or out["nginx_429"]:
                break
    out["secs"] = round(time.monotonic() - began, 2)
    emit(out)

def open_tls(host, port, cafile, src):
    s = socket.create_connection((host, int(port)), timeout=5, source_address=(src, 0))
    return ctx(cafile).wrap_socket(s, server_hostname=host)

def wait_closed(s, sent_at, limit):
    """Until the server answers or closes: (seconds since our last byte, first line)."""
    s.settimeout(limit)
    try:
        data = s.recv(4096)
        first = data.split(b"\r\n")[0].decode("latin-1") if data else "closed"
    except socket.timeout:
        first = "still open"
    except (OSError, ssl.SSLError) as e:
        first = "reset"
    return round(time.monotonic() - sent_at, 2), first

def probe(host, port, cafile, src, want, limit):
    """GET /healthz from src until it answers `want` (or limit seconds)."""
    until = time.monotonic() + limit
    last = None
    while True:
        try:
            c = http.client.HTTPSConnection(host, int(port), context=ctx(cafile),
                                            source_address=(src, 0), timeout=5)
            c.request("GET", "/healthz")
            r = c.getresponse()
            body = r.read()
            last = {"status": r.status, "retry_after": r.getheader("Retry-After"),
                    "upstream": r.getheader("X-Upstream")}
            try:
                last["code"] = json.loads(body).get("code")
            except ValueError:
                pass
            c.close()
        except (OSError, http.client.HTTPException) as e:
            last = {"status": 0, "error": str(e)}
        if last["status"] == want or time.monotonic() > until:
            return last
        time.sleep(0.05)

def slow(host, port, cafile, src, hold, header_src, limit):
    hold, limit = int(hold), float(limit)
    out = {}
    began = time.monotonic()
    # Headers and one byte of a ten-byte body, then nothing.
    bodies = []
    for _ in range(hold):
        s = open_tls(host, port, cafile, src)
        s.sendall(b"POST /auth/login HTTP/1.1\r\nHost: " + host.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{")
        bodies.append((s, time.monotonic()))
    # Half a request head, then nothing.
    h = open_tls(host, port, cafile, header_src)
    h.sendall(b"GET /healthz HTTP/1.1\r\nHost: " + host.encode() + b"\r\n")
    header = (h, time.monotonic())
    out["over_limit"] = probe(host, port, cafile, src, 429, 3)
    out["bodies"] = [wait_closed(s, t, limit) for s, t in bodies]
    out["header"] = wait_closed(*header, limit)
    out["after"] = probe(host, port, cafile, src, 200, 3)
    out["secs"] = round(time.monotonic() - began, 2)
    for s, _ in bodies + [header]:
        s.close()
    emit(out)

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "burst":
        host, port, cafile, src, method, path, n = args[:7]
        burst(host, port, cafile, src, method, path, n, "--xff" in args, "--first" in args)
    elif cmd == "slow":
        slow(*args)
EDGE
EDGE=(python3 "$T/edge.py")
edge_burst() { "${EDGE[@]}" burst 127.0.0.1 "$HTTPS_PORT" "$T/tls/cert.pem" "$@"; }
# R[key]: what the last edge.py run found (`key value` lines).
declare -A R=()
edge() {
  local k v
  R=()
  while read -r k v; do R[$k]=$v; done < <("${EDGE[@]}" "$@" || true)
  for k in "${!R[@]}"; do printf '  %s=%s\n' "$k" "${R[$k]}"; done | sort | paste -sd' ' 
}
edge_burst() { edge burst 127.0.0.1 "$HTTPS_PORT" "$T/tls/cert.pem" "$@"; }
echo "from 127.0.0.2, POST /auth/refresh without a token, up to 200 times:"
edge_burst 127.0.0.2 POST /auth/refresh 200
wx_at=${R[wxauth_429.at]:-} nx_at=${R[nginx_429.at]:-}
check "a burst through nginx: the first 429 is wxauth's (rate_limited, Retry-After ${R[wxauth_429.retry_after]:-none}), request ${wx_at:-none} (at most 30)" \
  test "${R[wxauth_429.code]:-}" = rate_limited -a "${wx_at:-99}" -le 30 -a \
  "${nx_at:-999}" -gt "${wx_at:-99}" -a "${R[wxauth_429.retry_after]:-0}" -ge 1
check "past its limit_req burst nginx answers itself: 429 rate_limited problem+json, Retry-After (request ${nx_at:-none}, ${R[secs]:-?}s in all)" \
  test "${R[nginx_429.code]:-} ${R[nginx_429.retry_after]:-} ${R[nginx_429.type]:-}" = "rate_limited 1 application/problem+json"
req --interface 127.0.0.2 "$N/auth/me" -H "Authorization: Bearer $T2"
check "verify-only routes are not limited: GET /auth/me from that address: 200" test "$STATUS" = 200
edge_burst 127.0.0.3 POST /auth/refresh 40 --xff --first
check "a client's own X-Forwarded-For (a new address each request) does not escape wxauth's limit: 429, request ${R[wxauth_429.at]:-none}" \
  test -n "${R[wxauth_429.at]:-}"
# nginx passes the path as sent (proxy_pass without a URI), so wxauth sees
# /auth/%72efresh and must count it as /auth/refresh: by the counts above
# its 429 comes first (X-Upstream set: answered by a replica), nginx's
# never in these 30 requests.
edge_burst 127.0.0.4 POST /auth/%72efresh 30 --first
check "a percent-encoded path (/auth/%72efresh) is limited by wxauth too: its 429 rate_limited at request ${R[wxauth_429.at]:-none} (nginx's: ${R[nginx_429.at]:-none})" \
  test "${R[wxauth_429.code]:-}" = rate_limited -a -z "${R[nginx_429.at]:-}"

# --- slow clients and limit_conn -----------------------------------------------------------
# From 127.0.0.5: NGINX_CONN requests that send their head and one byte of
# body, then nothing; one more request from there gets nginx's 429; nginx
# cuts each after client_body_timeout, and never passes them on (it reads
# the whole body first). From 127.0.0.6: half a request head, cut after
# client_header_timeout.
say "slow clients and limit_conn"
echo "slow clients:"
edge slow 127.0.0.1 "$HTTPS_PORT" "$T/tls/cert.pem" 127.0.0.5 "$NGINX_CONN" 127.0.0.6 $((NGINX_TIMEOUT * 4))
check "limit_conn: a request from an address with $NGINX_CONN in progress gets nginx's 429 rate_limited" \
  test "${R[over_limit.status]:-} ${R[over_limit.code]:-} [${R[over_limit.upstream]:-}]" = "429 rate_limited []"
# in_window SECONDS: cut about when the timeout says (in hundredths, for test).
in_window() {
  local t=${1:-x}
  [[ $t =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 1
  t=$(awk -v t="$t" 'BEGIN { printf "%d", t * 100 }')
  [ "$t" -ge $((NGINX_TIMEOUT * 100 - 50)) ] && [ "$t" -le $((NGINX_TIMEOUT * 100 + 300)) ]
}
bodies_cut() {
  local i
  for i in $(seq 0 $((NGINX_CONN - 1))); do
    in_window "${R[bodies.$i.0]:-}" || return 1
    [ "${R[bodies.$i.1]:-still open}" != "still open" ] || return 1
  done
}
check "$NGINX_CONN slow bodies cut by nginx after client_body_timeout (${NGINX_TIMEOUT}s): ${R[bodies.0.1]:-?} after ${R[bodies.0.0]:-?}s" bodies_cut
check "a slow request head cut after client_header_timeout (${NGINX_TIMEOUT}s): ${R[header.1]:-?} after ${R[header.0]:-?}s" \
  in_window "${R[header.0]:-}"
check "then the address is served again (200)" test "${R[after.status]:-}" = 200
check "no replica saw the slow bodies (no POST from 127.0.0.5 in their logs)" \
  not grep -q '127\.0\.0\.5 "POST' "$T/a.log" "$T/b.log"

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
