#!/usr/bin/env bash
# deploy/test-image.sh: build the top-level Dockerfile with podman and run the
# image: at most 20 MB, nothing in it but the static binary and the files it
# reads (no shell), non-root, its HEALTHCHECK, a login in production mode
# against a fake WeChat reached by name (/etc/hosts, then DNS), a login in
# simulator mode (WXAUTH_SIMULATOR=on, published port), and no configuration
# at all refused with a reason.
#
#   bash deploy/test-image.sh                # build (cached), then test
#   bash deploy/test-image.sh --build-only   # build only (deploy/test-compose.sh)
#
# No image registry is reachable from CI, so `FROM rust:...` cannot be pulled
# (the runtime stage is `scratch`, which needs none). This script makes the
# builder's base image locally (cached: made once per machine, skipped when
# present) and passes it as the Dockerfile's build argument; the Dockerfile
# itself runs unchanged, both stages, `cargo build --release --locked`
# included:
#   localhost/debian:bookworm-slim       mmdebstrap (minbase, ca-certificates,
#                                        docs and locales left out as the
#                                        official slim image does)
#   localhost/rust:<ver>-slim-bookworm   that plus gcc and libc6-dev, and this
#                                        host's rustup toolchain (copied in via
#                                        `podman build --volume`) at the paths
#                                        and with the ENV of the official
#                                        rust:<ver>-slim-bookworm image
# The builder stage downloads crates from crates.io itself, as it would
# anywhere.
#
# Needs root (apt-get, podman), a Rust toolchain installed with rustup, and
# Debian's mirror. It installs podman, runc, mmdebstrap, curl and python3
# when missing. podman runs with runc and cgroupfs and no default ulimits
# (podman 4.3 in a container without systemd needs all three), from a
# containers.conf of its own (CONTAINERS_CONF) so the system's is never
# touched. Containers bind loopback only and are
# removed on every exit. Ends with `N passed, M failed`; exit 0 only when M is 0.
#
# Options (environment): WXAUTH_IMAGE (tag, default localhost/wxauth:test),
# SKIP_BUILD=1 (test an image already built), REBUILD_BASE=1 (make the base
# images again), TEST_IMAGE_TIMEOUT (seconds for the tests after the build,
# default 180), KEEP_TMP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
IMAGE=${WXAUTH_IMAGE:-localhost/wxauth:test}
RUNTIME_IMAGE=localhost/debian:bookworm-slim
LIMIT=${TEST_IMAGE_TIMEOUT:-180}
BUILD_ONLY=0
[ "${1:-}" = --build-only ] && BUILD_ONLY=1
CURL=(curl -s --max-time 5)
UID_IN_IMAGE=65532

T=""
CONTAINERS=()   # names, removed by cleanup
FAKE_PID=""
DNS_PID=""
WATCHDOG=""

say() { printf '\n== %s\n' "$*"; }
# Counted checks, the watchdog and small helpers, shared with the other
# deploy suites.
. "$HERE/testlib.sh"
show_logs() {
  local c
  for c in "${CONTAINERS[@]}"; do
    podman container exists "$c" 2>/dev/null || continue
    printf -- '--- last lines of container %s\n' "$c"
    podman logs --tail 15 "$c" 2>&1 || true
  done
  if [ -n "$T" ] && [ -s "$T/fake.log" ]; then
    printf -- '--- last lines of the fake WeChat\n'
    tail -n 5 "$T/fake.log"
  fi
}
cleanup() {
  local rc=$? c
  trap - EXIT INT TERM
  if [ -n "$WATCHDOG" ]; then kill "$WATCHDOG" 2>/dev/null || true; fi
  # -v: the anonymous volume the image's VOLUME /keys gave each container.
  for c in "${CONTAINERS[@]}"; do podman rm -f -v -t 2 "$c" >/dev/null 2>&1 || true; done
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
  if [ -n "$DNS_PID" ]; then kill "$DNS_PID" 2>/dev/null || true; wait "$DNS_PID" 2>/dev/null || true; fi
  if [ -n "$T" ] && [ -d "$T" ]; then
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'bad "tests finished within ${LIMIT}s (TEST_IMAGE_TIMEOUT)"; show_logs; summary; exit 124' TERM

# --- what a clean machine may lack -------------------------------------------
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

T=$(mktemp -d /tmp/wxauth-image.XXXXXX)
chmod 755 "$T"
# podman as it runs here: runc, cgroupfs, no default ulimits.
export CONTAINERS_CONF=$T/containers.conf
cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF

# --- the base images (made once, cached) ---------------------------------------
image_exists() { podman image exists "$1" 2>/dev/null; }
elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

build_images() {
  local t0 sysroot rust_ver rustup_bin
  sysroot=$(rustc --print sysroot) || die "no Rust toolchain on the host (rustc)"
  rust_ver=$(rustc --version | awk '{print $2}')
  RUST_IMAGE=localhost/rust:$rust_ver-slim-bookworm

  if [ "${REBUILD_BASE:-0}" = 1 ] || ! image_exists "$RUNTIME_IMAGE"; then
    say "making $RUNTIME_IMAGE with mmdebstrap"
    t0=$SECONDS
    # As the official slim image: /usr merged without the usrmerge package
    # (and the perl it needs), no docs, man pages or locales (its
    # dpkg.cfg.d excludes), no recommends, and apt's caches cleaned after each
    # use (its apt.conf.d docker-* files), so an image's apt layer holds
    # packages only.
    mmdebstrap --quiet --variant=minbase --include=ca-certificates \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --aptopt='APT::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/groff/*' \
      --dpkgopt='path-exclude=/usr/share/lintian/*' \
      --customize-hook='cat >"$1/etc/apt/apt.conf.d/docker-clean" <<EOF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF' \
      --customize-hook='echo "Acquire::Languages \"none\";" >"$1/etc/apt/apt.conf.d/docker-no-languages"' \
      --customize-hook='echo "Acquire::GzipIndexes \"true\";" >"$1/etc/apt/apt.conf.d/docker-gzip-indexes"' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      bookworm "$T/base.tar" >"$T/mmdebstrap.log" 2>&1 ||
      { tail -n 20 "$T/mmdebstrap.log"; die "mmdebstrap bookworm"; }
    podman import --quiet \
      --change 'CMD ["bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      "$T/base.tar" "$RUNTIME_IMAGE" >/dev/null || die "podman import"
    rm -f "$T/base.tar"
    echo "made $RUNTIME_IMAGE in $(elapsed $((SECONDS - t0)))"
  else
    echo "$RUNTIME_IMAGE: present (REBUILD_BASE=1 makes it again)"
  fi

  if [ "${REBUILD_BASE:-0}" = 1 ] || ! image_exists "$RUST_IMAGE"; then
    say "making $RUST_IMAGE from this host's toolchain ($sysroot)"
    t0=$SECONDS
    rustup_bin=$(command -v rustup || true)
    mkdir -p "$T/rust-image"
    # The official image: RUSTUP_HOME and CARGO_HOME under /usr/local, rustup's
    # proxies (cargo, rustc, ...) on the PATH, gcc and libc6-dev for linking
    # and C code (aws-lc-sys). The toolchain without its docs.
    cat >"$T/rust-image/Containerfile" <<EOF
FROM $RUNTIME_IMAGE
ENV RUSTUP_HOME=/usr/local/rustup \\
    CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$rust_ver
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \\
 && rm -rf /var/lib/apt/lists/*
# This host's own extra CAs (an egress proxy that re-signs TLS, as here):
# what the host trusts for crates.io, the builder trusts too.
RUN set -e; if ls /host/extra-ca/*.crt >/dev/null 2>&1; then \
      cp /host/extra-ca/*.crt /usr/local/share/ca-certificates/ && update-ca-certificates >/dev/null; \
    fi
RUN set -e; tc=\$RUSTUP_HOME/toolchains/$rust_ver-x86_64-unknown-linux-gnu; \\
    mkdir -p "\$tc" "\$CARGO_HOME/bin"; \\
    cp -a /host/toolchain/bin /host/toolchain/lib "\$tc/"; \\
    if [ -d /host/toolchain/libexec ]; then cp -a /host/toolchain/libexec "\$tc/"; fi; \\
    if [ -x /host/cargo-bin/rustup ]; then \\
      cp /host/cargo-bin/rustup "\$CARGO_HOME/bin/rustup"; \\
      for p in cargo rustc rustdoc rust-gdb rust-lldb; do ln "\$CARGO_HOME/bin/rustup" "\$CARGO_HOME/bin/\$p"; done; \\
      printf 'version = "12"\\ndefault_toolchain = "%s"\\nprofile = "minimal"\\n' \\
        "$rust_ver-x86_64-unknown-linux-gnu" >"\$RUSTUP_HOME/settings.toml"; \\
    else \\
      for p in cargo rustc rustdoc; do ln -s "\$tc/bin/\$p" "\$CARGO_HOME/bin/\$p"; done; \\
    fi; \\
    chmod -R a+w "\$RUSTUP_HOME" "\$CARGO_HOME"; \\
    cargo --version; rustc --version
EOF
    local vols=(--volume "$sysroot:/host/toolchain:ro")
    mkdir -p "$T/extra-ca"
    cp /usr/local/share/ca-certificates/*.crt "$T/extra-ca/" 2>/dev/null || true
    vols+=(--volume "$T/extra-ca:/host/extra-ca:ro")
    if [ -n "$rustup_bin" ]; then vols+=(--volume "$(dirname "$rustup_bin"):/host/cargo-bin:ro"); fi
    podman build --network host "${vols[@]}" -t "$RUST_IMAGE" "$T/rust-image" >"$T/rust-image.log" 2>&1 ||
      { tail -n 20 "$T/rust-image.log"; die "building $RUST_IMAGE"; }
    echo "made $RUST_IMAGE in $(elapsed $((SECONDS - t0)))"
  else
    echo "$RUST_IMAGE: present (REBUILD_BASE=1 makes it again)"
  fi

  say "podman build $IMAGE (the Dockerfile, both stages)"
  t0=$SECONDS
  # --format docker: the OCI format has no HEALTHCHECK.
  # The whole log goes to $T/build.log; the steps and cargo's last words here.
  local rc
  set +e
  podman build --format docker --network host \
    --build-arg RUST_IMAGE="$RUST_IMAGE" \
    -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" 2>&1 | tee "$T/build.log" |
    grep --line-buffered -E 'STEP [0-9]|Using cache|Compiling wxauth|Finished|^wxauth [0-9]'
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" != 0 ]; then
    tail -n 40 "$T/build.log"
    die "podman build $IMAGE (exit $rc)"
  fi
  echo "built $IMAGE in $(elapsed $((SECONDS - t0)))"
}

if [ "${SKIP_BUILD:-0}" = 1 ]; then
  image_exists "$IMAGE" || die "SKIP_BUILD=1 but no image $IMAGE"
else
  build_images
fi
[ "$BUILD_ONLY" = 1 ] && exit 0

# The clock starts now (installs and the build above are not bounded here).
start_watchdog "$LIMIT"

not() { ! "$@"; }
NAME_PREFIX=wxauth-test-$$
# run NAME ARGS...: a detached container, removed by cleanup.
run() {
  local name=$NAME_PREFIX-$1
  shift
  CONTAINERS+=("$name")
  podman run -d --name "$name" "$@" >/dev/null 2>"$T/run.err" || { cat "$T/run.err" >&2; return 1; }
}
# podman's own complaint here: it schedules health checks with systemd timers,
# and there is no systemd; `podman healthcheck run` works all the same.
no_systemd_noise() { grep -v 'unable to get systemd connection' || true; }
healthy() { podman exec "$1" wxauth healthcheck >/dev/null 2>&1; }
running() { [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# --- the image -------------------------------------------------------------------
say "the image"
SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $SIZE bytes ($((SIZE / 1024 / 1024)) MiB)"
check "the image is at most 20 MB ($SIZE bytes)" test "$SIZE" -le 20000000
podman image inspect "$IMAGE" >"$T/inspect.json"
python3 - "$T/inspect.json" >"$T/config" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))[0]
c = i.get("Config", {})
hc = i.get("HealthCheck") or i.get("Healthcheck") or c.get("Healthcheck") or {}
env = dict(e.split("=", 1) for e in c.get("Env", []))
print("user", c.get("User", ""))
print("entrypoint", " ".join(c.get("Entrypoint") or []))
print("cmd", " ".join(c.get("Cmd") or []))
print("bind", env.get("WXAUTH_BIND", ""))
print("keys", env.get("WXAUTH_KEYS_DIR", ""))
print("ports", " ".join(sorted((c.get("ExposedPorts") or {}).keys())))
print("volumes", " ".join(sorted((c.get("Volumes") or {}).keys())))
print("healthcheck", " ".join(hc.get("Test") or []))
PY
cfg() { sed -n "s/^$1 //p" "$T/config"; }
check "USER is the non-root $UID_IN_IMAGE ($(cfg user))" test "$(cfg user)" = "$UID_IN_IMAGE:$UID_IN_IMAGE"
check "ENTRYPOINT wxauth, CMD serve" test "$(cfg entrypoint) / $(cfg cmd)" = "wxauth / serve"
check "WXAUTH_BIND=0.0.0.0:8080, WXAUTH_KEYS_DIR=/keys" test "$(cfg bind) $(cfg keys)" = "0.0.0.0:8080 /keys"
check "EXPOSE 8080, VOLUME /keys" test "$(cfg ports) $(cfg volumes)" = "8080/tcp /keys"
check "HEALTHCHECK runs wxauth healthcheck, no shell ($(cfg healthcheck))" \
  test "$(cfg healthcheck)" = "CMD wxauth healthcheck"
no_shell() {
  ! podman run --rm --no-healthcheck --network none --entrypoint /bin/sh "$IMAGE" -c true >/dev/null 2>&1
}
check "no shell in the image: /bin/sh does not run" no_shell
# Every file in the image: the binary and what it reads, nothing a shell
# could use.
LISTING=$NAME_PREFIX-listing
CONTAINERS+=("$LISTING")
podman create --name "$LISTING" "$IMAGE" >/dev/null
podman export "$LISTING" | tar -t | grep -v '/$' | sort >"$T/files"
EXPECTED="etc/group etc/nsswitch.conf etc/passwd etc/ssl/certs/ca-certificates.crt usr/local/bin/wxauth"
check "the image holds the binary, CA certificates, passwd, group and nsswitch.conf only: $(tr '\n' ' ' <"$T/files")" \
  test "$(grep -v -e '^dev/' -e '^proc/' -e '^sys/' "$T/files" | tr '\n' ' ' | sed 's/ $//')" = "$EXPECTED"
check "the binary is static (no ELF interpreter, no shared libraries)" \
  sh -c "podman cp $LISTING:/usr/local/bin/wxauth '$T/wxauth' && ! readelf -l '$T/wxauth' | grep -q 'Requesting program interpreter' && ! readelf -d '$T/wxauth' | grep -q NEEDED"

# --- no configuration: refused, with the reason ------------------------------------
say "no configuration at all"
# The image's defaults: 0.0.0.0:8080, no app, WXAUTH_SIMULATOR unset (auto).
# --network none: nothing can be reached even if it did start.
rc=0
timeout 30 podman run --rm --network none "$IMAGE" >"$T/noconfig.out" 2>&1 || rc=$?
no_systemd_noise <"$T/noconfig.out" >"$T/noconfig.log"
check "the container exits non-zero (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "its log says why, naming WXAUTH_SIMULATOR" grep -q 'WXAUTH_SIMULATOR' "$T/noconfig.log"
sed 's/^/    | /' "$T/noconfig.log" | tail -n 4

# --- simulator mode: WXAUTH_SIMULATOR=on, a published port ---------------------------
say "simulator mode (WXAUTH_SIMULATOR=on, -p 127.0.0.1:PORT:8080)"
SPORT=$(free_port)
SIM=$NAME_PREFIX-sim
# As the README runs it, but published on loopback only. Read-only root
# filesystem and no capabilities, as deploy/kubernetes/wxauth.yaml runs it;
# the development key goes into the image's /keys volume.
run sim -p "127.0.0.1:$SPORT:8080" -e WXAUTH_SIMULATOR=on \
  --read-only --cap-drop ALL --security-opt no-new-privileges "$IMAGE" ||
  die "podman run (simulator)"
S=http://127.0.0.1:$SPORT
sim_up() { running "$SIM" && [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$S/healthz")" = 200 ]; }
wait_for 30 sim_up || die "the simulator container did not answer on $S/healthz"
PID=$(podman inspect -f '{{.State.Pid}}' "$SIM")
HOST_UID=$(awk '/^Uid:/ {print $2}' "/proc/$PID/status")
check "the server process runs as uid $HOST_UID (seen from the host), not 0" \
  test "$HOST_UID" = "$UID_IN_IMAGE"
check "and gid $UID_IN_IMAGE" \
  test "$(awk '/^Gid:/ {print $2}' "/proc/$PID/status")" = "$UID_IN_IMAGE"
check "podman healthcheck run: healthy" podman healthcheck run "$SIM"
check "it logs a warning that anyone who reaches the port can log in" \
  wait_for 5 sh -c "podman logs '$SIM' 2>&1 | grep -i 'warn' | grep -qi 'simulator'"
code=$("${CURL[@]}" -X POST "$S/sim/login" -H 'Content-Type: application/json' \
  -d '{"user":"alice"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["code"])' 2>/dev/null) || code=""
check "POST /sim/login {\"user\":\"alice\"}: a code" test -n "$code"
req -X POST "$S/auth/login" -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}"
STOK=$(json "$T/body" access_token)
check "POST /auth/login with it: 200 and a token" test "$STATUS" = 200 -a -n "$STOK"
req "$S/auth/me" -H "Authorization: Bearer $STOK"
SOPENID=$(json "$T/body" openid)
check "GET /auth/me: 200 with alice's openid" test "$STATUS" = 200 -a -n "$SOPENID"
SIM_KEYS=$(podman inspect -f '{{range .Mounts}}{{if eq .Destination "/keys"}}{{.Source}}{{end}}{{end}}' "$SIM")
check "the development key was written to /keys as uid $UID_IN_IMAGE" \
  sh -c "stat -c %u '$SIM_KEYS'/*.pem | grep -qx $UID_IN_IMAGE"

# --- production mode: a fake WeChat on the host, keys from the host -----------------
say "production mode (fake WeChat on the host, keys mounted read-only)"
FPORT=$(free_port)
cat >"$T/fake.py" <<'PY'
# code2Session as WeChat answers it: text/plain JSON.
import base64, hashlib, http.server, json, os, sys, urllib.parse
port, appid, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path != "/sns/jscode2session":
            self.send_response(404); self.end_headers(); return
        code = q.get("js_code", [""])[0]
        if q.get("appid") != [appid] or q.get("secret") != [secret]:
            body = {"errcode": 40125, "errmsg": "invalid appsecret"}
        elif code.startswith("bad"):
            body = {"errcode": 40029, "errmsg": "invalid code"}
        else:
            user = code.split("-")[0]
            openid = "o" + base64.urlsafe_b64encode(hashlib.sha256(user.encode()).digest()).decode()[:27]
            body = {"openid": openid, "session_key": base64.b64encode(os.urandom(16)).decode()}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        sys.stderr.write("%s %s\n" % (u.path, "ok" if "openid" in body else body["errcode"]))
        sys.stderr.flush()
    def log_message(self, *a):
        pass  # the query holds the secret and the code
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
APPID=wx0123456789abcdef
SECRET=fake-secret-$RANDOM$RANDOM
python3 "$T/fake.py" "$FPORT" "$APPID" "$SECRET" 2>"$T/fake.log" &
FAKE_PID=$!
wait_for 10 sh -c "curl -s -o /dev/null http://127.0.0.1:$FPORT/" || die "the fake WeChat did not start"

# The key folder as an operator makes it: owned by the image's user, 0700,
# the key written by the image's own `wxauth keygen`.
KEYS=$T/keys
install -d -m 0700 -o "$UID_IN_IMAGE" -g "$UID_IN_IMAGE" "$KEYS"
KID=$(podman run --rm --no-healthcheck --network none -v "$KEYS:/keys" "$IMAGE" keygen --dir /keys 2>/dev/null) || KID=""
check "wxauth keygen in the image wrote $KID.pem (mode 0600, uid $UID_IN_IMAGE)" \
  test -n "$KID" -a "$(stat -c '%a %u' "$KEYS/$KID.pem" 2>/dev/null)" = "600 $UID_IN_IMAGE"

PPORT=$(free_port)
PROD=$NAME_PREFIX-prod
# Host network: the fake listens on the host's loopback; wxauth binds loopback
# too. The fake is reached by name, as WeChat is: the static binary resolves
# it through /etc/hosts (--add-host). JSON logs, as a log platform reads them.
run prod --network host --add-host "wechat.test:127.0.0.1" -v "$KEYS:/keys:ro" \
  -e WXAUTH_BIND="127.0.0.1:$PPORT" -e WECHAT_APPID="$APPID" -e WECHAT_SECRET="$SECRET" \
  -e WECHAT_API_BASE="http://wechat.test:$FPORT" -e WXAUTH_LOG_FORMAT=json -e RUST_LOG=info \
  --read-only --cap-drop ALL --security-opt no-new-privileges "$IMAGE" ||
  die "podman run (production)"
P=http://127.0.0.1:$PPORT
prod_up() { running "$PROD" && [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$P/readyz")" = 200 ]; }
wait_for 30 prod_up || die "the production container did not become ready on $P/readyz"
check "podman healthcheck run: healthy" podman healthcheck run "$PROD"
check "wxauth healthcheck prints nothing on success" \
  test -z "$(podman exec "$PROD" wxauth healthcheck 2>&1)"
rc=0
podman exec -e WXAUTH_BIND=127.0.0.1:1 "$PROD" wxauth healthcheck >/dev/null 2>&1 || rc=$?
check "wxauth healthcheck against a port nobody serves: exit 1 (got $rc)" test "$rc" = 1
req "$P/readyz"
check "GET /readyz: ready, signing with $KID" \
  test "$(json "$T/body" status) $(json "$T/body" signing_kid)" = "ready $KID"
req "$P/sim/login" -X POST -H 'Content-Type: application/json' -d '{"user":"alice"}'
check "no simulator in production mode (/sim/login: 404)" test "$STATUS" = 404
req -X POST "$P/auth/login" -H 'Content-Type: application/json' -d '{"code":"bob-0001"}'
PTOK=$(json "$T/body" access_token)
check "POST /auth/login: 200 and a token, the code exchanged with the fake WeChat (by name, /etc/hosts)" \
  test "$STATUS" = 200 -a -n "$PTOK" -a "$(grep -c '^/sns/jscode2session ok' "$T/fake.log")" -ge 1
req "$P/auth/me" -H "Authorization: Bearer $PTOK"
check "GET /auth/me: 200, bob's openid from the fake" \
  test "$STATUS $(json "$T/body" openid)" = "200 o$(python3 -c 'import base64,hashlib; print(base64.urlsafe_b64encode(hashlib.sha256(b"bob").digest()).decode()[:27])')"
req -X POST "$P/auth/login" -H 'Content-Type: application/json' -d '{"code":"bad-0001"}'
check "a code WeChat refuses: 400 invalid_code" test "$STATUS $(json "$T/body" code)" = "400 invalid_code"
req "$P/.well-known/jwks.json"
check "the JWK Set publishes $KID" grep -q "\"kid\":\"$KID\"" "$T/body"

podman logs "$PROD" >"$T/prod.log" 2>&1
python3 - "$T/prod.log" >"$T/json-check" <<'PY' || true
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
bad = []
access = 0
for l in lines:
    try:
        o = json.loads(l)
        if not all(k in o for k in ("ts", "level", "target", "msg")):
            bad.append(l)
        if o.get("path") == "/auth/login" and "status" in o and "method" in o:
            access += 1
    except ValueError:
        bad.append(l)
print(len(lines), len(bad), access)
for l in bad[:3]:
    print("not a JSON log line: " + l.strip()[:160], file=sys.stderr)
PY
read -r nlines nbad naccess <"$T/json-check" || true
check "WXAUTH_LOG_FORMAT=json: all ${nlines:-0} log lines are JSON with ts, level, target, msg" \
  test "${nlines:-0}" -gt 0 -a "${nbad:-1}" = 0
check "the access log has the logins (method, path, status): ${naccess:-0}" test "${naccess:-0}" -ge 2
check "no token, app secret or code in the logs" \
  not grep -qF -e "${PTOK##*.}" -e "$SECRET" -e "bob-0001" "$T/prod.log"

# --- DNS: a name only a DNS server knows ------------------------------------------
say "DNS from the static binary (a DNS server on 127.0.0.77:53, --dns)"
cat >"$T/dns.py" <<'PY'
# Answers every A query with 127.0.0.1 and nothing else; logs each query.
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.77", 53))
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    qtype = struct.unpack(">H", q[end + 1:end + 3])[0]
    a = b""
    if qtype == 1:
        a = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    s.sendto(q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1 if a else 0, 0, 0) + q[12:end + 5] + a, peer)
    sys.stderr.write("query %d\n" % qtype)
    sys.stderr.flush()
PY
python3 "$T/dns.py" 2>"$T/dns.log" &
DNS_PID=$!
DPORT=$(free_port)
run dns --network host --dns 127.0.0.77 -v "$KEYS:/keys:ro" \
  -e WXAUTH_BIND="127.0.0.1:$DPORT" -e WECHAT_APPID="$APPID" -e WECHAT_SECRET="$SECRET" \
  -e WECHAT_API_BASE="http://wechat.dns.test:$FPORT" --read-only --cap-drop ALL "$IMAGE" ||
  die "podman run (dns)"
dns_up() { running "$NAME_PREFIX-dns" && [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DPORT/readyz")" = 200 ]; }
wait_for 30 dns_up || die "the dns container did not become ready"
req -X POST "http://127.0.0.1:$DPORT/auth/login" -H 'Content-Type: application/json' -d '{"code":"carol-0001"}'
check "a login whose WeChat only DNS can name: 200 (the static binary asked the DNS server: $(grep -c '^query 1$' "$T/dns.log") A queries)" \
  test "$STATUS" = 200 -a "$(grep -c '^query 1$' "$T/dns.log")" -ge 1
kill "$DNS_PID" 2>/dev/null || true

summary
[ "$FAILED" -eq 0 ]
