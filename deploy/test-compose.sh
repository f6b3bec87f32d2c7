#!/usr/bin/env bash
# deploy/test-compose.sh: deploy/compose.yaml (with compose.simulator.yaml)
# brought up by podman-compose: two replicas behind the tested nginx config,
# one shared key folder; a login through nginx, answered by both replicas;
# then everything is taken down.
#
#   bash deploy/test-compose.sh
#
# Needs what deploy/test-image.sh needs (it builds the wxauth image through
# it, cached), plus openssl and python3-venv; podman-compose comes from PyPI
# into a virtualenv. No registry is reachable here, so nginx is Debian's
# package in a local image made from the same base (localhost/nginx:bookworm,
# made once); elsewhere compose.yaml uses the official nginx image. The
# containers use compose's own network (podman's netavark bridge with name
# resolution, which works here); nginx publishes on 127.0.0.1 only, on free
# ports. Ends with `N passed, M failed`; exit 0 only when M is 0.
#
# Options: WXAUTH_IMAGE (default localhost/wxauth:test), SKIP_BUILD=1 (use the
# image as it is), TEST_COMPOSE_TIMEOUT (seconds after the builds, default
# 180), KEEP_TMP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export WXAUTH_IMAGE=${WXAUTH_IMAGE:-localhost/wxauth:test}
BASE_IMAGE=localhost/debian:bookworm-slim
export NGINX_IMAGE=localhost/nginx:bookworm
LIMIT=${TEST_COMPOSE_TIMEOUT:-180}
PROJECT=wxauth-compose-test-$$
CURL=(curl -s --max-time 5)

T=""
UP=0
WATCHDOG=""

say() { printf '\n== %s\n' "$*"; }
# Counted checks, the watchdog and small helpers, shared with the other
# deploy suites.
. "$HERE/testlib.sh"
# container SERVICE: the name of the service's container.
container() {
  podman ps -a --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -n1
}
show_logs() {
  [ "$UP" = 1 ] || return 0
  local s c
  podman ps -a --filter "label=com.docker.compose.project=$PROJECT" \
    --format '{{.Names}} {{.Status}}' || true
  for s in keys wechat-sim wxauth-a wxauth-b nginx; do
    c=$(container "$s")
    [ -n "$c" ] || continue
    printf -- '--- last lines of %s\n' "$c"
    podman logs --tail 10 "$c" 2>&1 || true
  done
}
compose() {
  "$T/venv/bin/podman-compose" -p "$PROJECT" \
    -f "$HERE/compose.yaml" -f "$HERE/compose.simulator.yaml" "$@"
}
# take_down: podman-compose down -v, then whatever it leaves: the anonymous
# volumes of the image's VOLUME /keys (wechat-sim's), which it does not remove.
take_down() {
  local anon
  anon=$(podman ps -aq --filter "label=com.docker.compose.project=$PROJECT" |
    xargs -r podman inspect --format '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}' 2>/dev/null |
    tr ' ' '\n' | grep -E '^[0-9a-f]{64}$' || true)
  compose down -v -t 2 >"$T/down.log" 2>&1 || { echo "podman-compose down failed:"; tail -n 5 "$T/down.log"; }
  podman ps -aq --filter "label=com.docker.compose.project=$PROJECT" | xargs -r podman rm -f -v -t 2 >/dev/null 2>&1 || true
  for v in $anon; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
  podman volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | xargs -r podman volume rm -f >/dev/null 2>&1 || true
  podman network ls -q --filter "label=com.docker.compose.project=$PROJECT" | xargs -r podman network rm -f >/dev/null 2>&1 || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$WATCHDOG" ]; then kill "$WATCHDOG" 2>/dev/null || true; fi
  if [ "$UP" = 1 ]; then take_down; fi
  if [ -n "$T" ] && [ -d "$T" ]; then
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'bad "finished within ${LIMIT}s (TEST_COMPOSE_TIMEOUT)"; show_logs; summary; exit 124' TERM

# --- what a clean machine may lack; the images --------------------------------------
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash "$HERE/test-image.sh" --build-only || die "building $WXAUTH_IMAGE (deploy/test-image.sh --build-only)"
fi

T=$(mktemp -d /tmp/wxauth-compose.XXXXXX)
# podman as it runs here (see deploy/test-image.sh); podman-compose inherits it.
export CONTAINERS_CONF=$T/containers.conf
cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
podman image exists "$WXAUTH_IMAGE" || die "no image $WXAUTH_IMAGE (run without SKIP_BUILD=1)"

if ! podman image exists "$NGINX_IMAGE"; then
  say "making $NGINX_IMAGE (Debian's nginx on $BASE_IMAGE)"
  mkdir -p "$T/nginx-image"
  cat >"$T/nginx-image/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update \\
 && apt-get install -y --no-install-recommends nginx \\
 && rm -rf /var/lib/apt/lists/*
EXPOSE 80 443
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  podman build --network host -t "$NGINX_IMAGE" "$T/nginx-image" >"$T/nginx-image.log" 2>&1 ||
    { tail -n 20 "$T/nginx-image.log"; die "building $NGINX_IMAGE"; }
fi

say "podman-compose (PyPI)"
python3 -m venv "$T/venv"
"$T/venv/bin/pip" install --quiet --disable-pip-version-check podman-compose ||
  die "pip install podman-compose"
"$T/venv/bin/podman-compose" --version 2>/dev/null | head -n1

# The clock starts now (installs and builds above are not bounded here).
start_watchdog "$LIMIT"

# --- up ----------------------------------------------------------------------------
say "podman-compose up"
mkdir -p "$T/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$T/tls/auth.example.com.key" -out "$T/tls/auth.example.com.crt" 2>/dev/null ||
  die "openssl: test certificate"
chmod 644 "$T/tls/auth.example.com.key"   # a test certificate; nginx's master reads it as root
HTTPS_PORT=$(free_port)
HTTP_PORT=$(free_port)
export WXAUTH_TLS_DIR=$T/tls
export WXAUTH_HTTPS_PUBLISH=127.0.0.1:$HTTPS_PORT
export WXAUTH_HTTP_PUBLISH=127.0.0.1:$HTTP_PORT
export RUST_LOG=info WXAUTH_LOG_FORMAT=text
unset WECHAT_APPID WECHAT_SECRET WECHAT_API_BASE
UP=1
# Bounded: podman-compose waits for every service to run, and waits for
# ever when one exits at start (a refused configuration); then its log says why.
timeout 180 "$T/venv/bin/podman-compose" -p "$PROJECT" \
  -f "$HERE/compose.yaml" -f "$HERE/compose.simulator.yaml" up -d >"$T/up.log" 2>&1 || {
  tail -n 20 "$T/up.log"
  for c in $(podman ps -a --format '{{.Names}}' | grep "^$PROJECT"); do
    echo "--- $c"; podman logs --tail 5 "$c" 2>&1
  done
  die "podman-compose up -d"
}
N=https://127.0.0.1:$HTTPS_PORT
CURL+=(--cacert "$T/tls/auth.example.com.crt")
ready() { [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$N/readyz")" = 200 ]; }
wait_for 60 ready || die "no 200 from $N/readyz through nginx within 60 s"
echo "nginx: $N"
podman ps --filter "label=com.docker.compose.project=$PROJECT" --format '  {{.Names}}: {{.Status}}'

for s in wxauth-a wxauth-b; do
  check "$s runs in production mode (WeChat: the simulator service)" \
    sh -c "podman logs $(container "$s") 2>&1 | grep -q 'listening on .*(production mode'"
done
KEYS_EXIT=$(podman inspect -f '{{.State.ExitCode}}' "$(container keys)" 2>/dev/null || echo none)
check "the keys service wrote the first key and exited 0" test "$KEYS_EXIT" = 0
for s in wxauth-a wxauth-b; do
  c=$(container "$s")
  check "$s runs as uid 65532 with the image's health check passing" \
    sh -c "[ \"\$(awk '/^Uid:/ {print \$2}' /proc/\$(podman inspect -f '{{.State.Pid}}' $c)/status)\" = 65532 ] && podman healthcheck run $c >/dev/null"
done

# --- through nginx -----------------------------------------------------------------
say "through nginx"
req "http://127.0.0.1:$HTTP_PORT/auth/me"
check "plain HTTP redirects to HTTPS (301)" test "$STATUS" = 301
req "$N/metrics"
check "GET /metrics is not published (403)" test "$STATUS" = 403
req "$N/readyz"
KID=$(json "$T/body" signing_kid)
check "GET /readyz: ready, signing with the shared key $KID" \
  test "$(json "$T/body" status)" = ready -a -n "$KID"
code=$("${CURL[@]}" -X POST "$N/sim/login" -H 'Content-Type: application/json' \
  -d '{"user":"alice"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["code"])' 2>/dev/null) || code=""
check "POST /sim/login (the simulator standing in for WeChat): a code" test -n "$code"
req -X POST "$N/auth/login" -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}"
TOK=$(json "$T/body" access_token)
check "POST /auth/login through nginx: 200 and a token" test "$STATUS" = 200 -a -n "$TOK"
req "$N/auth/me" -H "Authorization: Bearer $TOK"
OPENID=$(json "$T/body" openid)
check "GET /auth/me: 200 with an openid" test "$STATUS" = 200 -a -n "$OPENID"

# Round robin: 20 guarded requests with the one token; each replica must have
# answered some (its own access log), which also shows both hold the key.
ok200=0
for _ in $(seq 20); do
  req "$N/auth/me" -H "Authorization: Bearer $TOK"
  [ "$STATUS $(json "$T/body" openid)" = "200 $OPENID" ] && ok200=$((ok200 + 1))
done
check "20 guarded requests through nginx: $ok200 answered 200 with the same openid" test "$ok200" = 20
sleep 0.5
for s in wxauth-a wxauth-b; do
  n=$(podman logs "$(container "$s")" 2>&1 | grep -cE '"GET /auth/me[^"]*" 200|"path":"/auth/me".*"status":200' || true)
  check "$s answered GET /auth/me: $n times (its own log)" test "$n" -ge 1
done
n=$(podman logs "$(container nginx)" 2>/dev/null | grep -c 'GET /auth/me' || true)
check "nginx's access log (stdout) has the requests: $n" test "$n" -ge 20

# --- down ----------------------------------------------------------------------------
say "podman-compose down"
VOLS_BEFORE=$(podman volume ls -q | sort)
take_down
left=$(podman ps -aq --filter "label=com.docker.compose.project=$PROJECT" | grep -c . || true)
check "podman-compose down -v: no container left ($left)" test "$left" = 0
check "no volume or network of the project left" test -z "$(
  podman volume ls -q --filter "label=com.docker.compose.project=$PROJECT"
  podman network ls -q --filter "label=com.docker.compose.project=$PROJECT")"
UP=0

summary
[ "$FAILED" -eq 0 ]
