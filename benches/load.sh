#!/usr/bin/env bash
# Load benchmark of a release build, on loopback only. Installs wrk (Debian)
# if missing, starts a fake WeChat that answers after 20 ms and wxauth in
# production mode against it, then measures with wrk:
#   1. GET /healthz, same client work as 2        the unguarded ceiling
#   2. GET /auth/me, 10,000 live tokens rotated    the guard, warm
#   3. GET /auth/me, every token seen once         the guard, cold
#   4. POST /auth/login against the 20 ms fake     the login path
# and reports requests/s, p50/p99 latency, idle and peak RSS as a Markdown
# section on stdout (also saved under target/bench/).
#
# Usage: bash benches/load.sh            (DURATION=10 CONNECTIONS=64 THREADS=2)
#   CLIENT_RATE=1000000  WXAUTH_CLIENT_RATE of the server: by default the
#                        limiter checks every login but never refuses one (all
#                        the load comes from one address); 0 turns it off
#   APPS=4               serve 4 apps (2 WeChat, 1 QQ, 1 Douyin) from an apps
#                        file, logins spread over them; default 1 (WECHAT_APPID)
#   REVOCATIONS=100000   a revocation file of that many bans; default none
#   SIM_APPS=1           also: the login cost on each platform, against a
#                        second server in simulator mode and its seven apps
#                        (codes minted with /sim/login first; the simulated
#                        platform runs in the same process, so Alipay's row
#                        carries both sides' RSA2 work): the server's CPU
#                        time per login and the latency; SIM_CODES=12000 codes
#                        per app, each used once, SIM_DURATION=3 s at most,
#                        SIM_CONNECTIONS=4
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
LOGIN_CONNECTIONS="${LOGIN_CONNECTIONS:-12}"
COLD_TOKENS="${COLD_TOKENS:-300000}"
CLIENT_RATE="${CLIENT_RATE:-1000000}"
APPS="${APPS:-1}"
REVOCATIONS="${REVOCATIONS:-0}"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release --quiet --bin wxauth --example fake_wechat --example mint_tokens
BIN="${WXAUTH_BIN:-target/release/wxauth}"

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FAKE_PORT=$(free_port)
target/release/examples/fake_wechat "127.0.0.1:$FAKE_PORT" 20 >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
"$BIN" keygen --dir "$WORK/keys" --kid bench >/dev/null 2>&1
PORT=$(free_port)
FAKE="http://127.0.0.1:$FAKE_PORT"
APP_ENV=(WECHAT_APPID=wxbench000000000 WECHAT_SECRET=bench-secret WECHAT_API_BASE="$FAKE")
APPIDS="wxbench000000000"
if [ "$APPS" -gt 1 ]; then
  # Two WeChat apps, then QQ and Douyin, all answered by the fake.
  APPIDS=""
  for i in $(seq 1 "$APPS"); do
    case $(( (i - 1) % 4 )) in 0|1) platform=wechat ;; 2) platform=qq ;; *) platform=douyin ;; esac
    appid=$(printf 'bench%s%010d' "${platform:0:2}" "$i")
    APPIDS="$APPIDS $appid"
    printf '[[app]]\nplatform = "%s"\nappid = "%s"\nsecret_env = "BENCH_SECRET"\napi_base = "%s"\n\n' \
      "$platform" "$appid" "$FAKE" >>"$WORK/apps.toml"
  done
  APP_ENV=(WXAUTH_APPS_FILE="$WORK/apps.toml" BENCH_SECRET=bench-secret)
fi
if [ "$REVOCATIONS" -gt 0 ]; then
  python3 -c "
import sys
with open(sys.argv[1], 'w') as f:
    for n in range(int(sys.argv[2])):
        f.write('ban oREVOKED%019d\n' % n)
" "$WORK/revocations" "$REVOCATIONS"
  APP_ENV+=(WXAUTH_REVOCATIONS_FILE="$WORK/revocations")
fi
FIRST_APPID=${APPIDS# }; FIRST_APPID=${FIRST_APPID%% *}
env -i PATH="$PATH" WXAUTH_BIND="127.0.0.1:$PORT" "${APP_ENV[@]}" WXAUTH_KEYS_DIR="$WORK/keys" \
  WXAUTH_CLIENT_RATE="$CLIENT_RATE" RUST_LOG=warn \
  "$BIN" serve >"$WORK/wxauth.log" 2>&1 &
SERVER=$!
PIDS+=($SERVER)
BASE="http://127.0.0.1:$PORT"
# Up to 10 s for the server to answer; a server that never does stops the
# run here (with its log), not with a table of zeros.
answered=no
for _ in $(seq 1 100); do
  if curl -sf "$BASE/healthz" >/dev/null 2>&1; then answered=yes; break; fi
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.1
done
if [ "$answered" != yes ]; then
  echo "load.sh: wxauth never answered on $BASE; its log:" >&2
  cat "$WORK/wxauth.log" >&2
  exit 1
fi
sleep 1
rss_kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$SERVER/status"; }
IDLE_RSS=$(rss_kib VmRSS)

target/release/examples/mint_tokens "$WORK/keys" "$FIRST_APPID" 10000 >"$WORK/warm.txt"
target/release/examples/mint_tokens "$WORK/keys" "$FIRST_APPID" "$COLD_TOKENS" >"$WORK/cold.txt"

# wrk's --latency output -> "rps|p50|p99|non-2xx|socket errors" (latencies
# in ms; socket errors: wrk's connect + read + write + timeout count). A wrk
# that fails or measures nothing stops the run (measure runs in a command
# substitution, where `set -e` does not reach: the caller checks the status).
measure() {
  local out
  if ! out=$(wrk --latency -t"$THREADS" "$@"); then
    echo "load.sh: wrk $* failed" >&2
    return 1
  fi
  echo "$out" >>"$WORK/wrk.txt"
  local rps p50 p99 errors socket
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses/ {print $5}' <<<"$out")
  # "Socket errors: connect 0, read 3, write 0, timeout 12"
  socket=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
  if [ -z "$rps" ] || ! awk -v r="$rps" 'BEGIN { exit !(r > 0) }'; then
    echo "load.sh: wrk $* answered nothing:" >&2
    echo "$out" >&2
    return 1
  fi
  local note=""
  if grep -q "note: a thread reused" <<<"$out"; then note=" (tokens reused)"; fi
  echo "$rps|$(ms "$p50")|$(ms "$p99")$note|${errors:-0}|${socket:-0}"
}
# wrk prints 812.00us / 1.20ms / 1.02s: normalise to ms.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us/) n /= 1000; else if (v ~ /ms/) n = n; else if (v ~ /s/) n *= 1000; printf "%.3f", n }'; }

# Warm the server's connections and caches a little before measuring.
wrk -t1 -c8 -d2s "$BASE/healthz" >/dev/null
# The ceiling is measured with the same client work as the guarded route (a
# Lua script sending the same 600-byte Authorization headers), so the two
# differ by the guard alone; healthz ignores the header.
R1=$(measure -c"$CONNECTIONS" -d"${DURATION}s" -s benches/wrk/tokens.lua "$BASE/healthz" -- "$WORK/warm.txt" /healthz) || exit 1
R2=$(measure -c"$CONNECTIONS" -d"${DURATION}s" -s benches/wrk/tokens.lua "$BASE/auth/me" -- "$WORK/warm.txt") || exit 1
R3=$(measure -c"$CONNECTIONS" -d"$((DURATION / 2))s" -s benches/wrk/tokens.lua "$BASE/auth/me" -- "$WORK/cold.txt") || exit 1
R4=$(measure -c"$LOGIN_CONNECTIONS" -d"${DURATION}s" -s benches/wrk/login.lua "$BASE/auth/login" -- $APPIDS) || exit 1
# The fake WeChat alone, at the same concurrency: its real latency (the timer
# rounds the 20 ms up), to subtract from the logins' instead of a flat 20 ms.
R5=$(measure -c"$LOGIN_CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$FAKE_PORT/sns/jscode2session?js_code=bench") || exit 1
PEAK_RSS=$(rss_kib VmHWM)

row() { IFS='|' read -r rps p50 p99 errors socket <<<"$2"; printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "$errors" "$socket"; }
RATIO=$(awk -v a="${R2%%|*}" -v b="${R1%%|*}" 'BEGIN { printf "%.2f", a / b }')
IFS='|' read -r _ LOGIN_P50 LOGIN_P99 _ _ <<<"$R4"
IFS='|' read -r _ FAKE_P50 FAKE_P99 _ _ <<<"$R5"
OWN_P50=$(awk -v a="$LOGIN_P50" -v b="$FAKE_P50" 'BEGIN { printf "%.3f", a - b }')
OWN_P99=$(awk -v a="$LOGIN_P99" -v b="$FAKE_P99" 'BEGIN { printf "%.3f", a - b }')
REPORT=$(cat <<MD
### $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)

Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); wrk and wxauth share it.
Command: \`bash benches/load.sh\` (wrk -t$THREADS, ${CONNECTIONS} connections, ${DURATION} s; logins ${LOGIN_CONNECTIONS} connections; CLIENT_RATE=$CLIENT_RATE APPS=$APPS REVOCATIONS=$REVOCATIONS).

| scenario | requests/s | p50 ms | p99 ms | non-2xx | socket errors |
|---|---|---|---|---|---|
$(row "1. GET /healthz (ceiling)" "$R1")
$(row "2. GET /auth/me, 10,000 tokens rotated" "$R2")
$(row "3. GET /auth/me, each token once (cold)" "$R3")
$(row "4. POST /auth/login, upstream 20 ms" "$R4")
$(row "(the fake WeChat alone, same connections)" "$R5")

Guarded / unguarded (2 / 1): **$RATIO**. Login, the server's own time (login latency minus the fake WeChat's own, same percentile): p50 $OWN_P50 ms, p99 $OWN_P99 ms.
RSS: idle $((IDLE_RSS / 1024)) MiB, peak over all scenarios $((PEAK_RSS / 1024)) MiB.
MD
)
if [ "${SIM_APPS:-0}" = 1 ]; then
  SIM_DURATION="${SIM_DURATION:-3}"
  SIM_CODES="${SIM_CODES:-12000}"
  SIM_CONNECTIONS="${SIM_CONNECTIONS:-4}"
  SIM_PORT=$(free_port)
  BIN_ABS=$(realpath "$BIN")
  mkdir -p "$WORK/sim"
  (cd "$WORK/sim" && exec env -i PATH="$PATH" WXAUTH_BIND="127.0.0.1:$SIM_PORT" WXAUTH_KEYS_DIR="$WORK/keys" \
    WXAUTH_CLIENT_RATE=0 RUST_LOG=warn "$BIN_ABS" serve >"$WORK/sim.log" 2>&1) &
  SIM_SERVER=$!
  PIDS+=($SIM_SERVER)
  SIM="http://127.0.0.1:$SIM_PORT"
  for _ in $(seq 1 100); do curl -sf "$SIM/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  SIM_ROWS=""
  for pair in wechat:wxsimulator0000000 qq:1109999999 douyin:ttsimulator0000000 alipay:2021000000000000 \
              baidu:bdsimulator0000000 kuaishou:kssimulator0000000 feishu:clisimulator000000; do
    platform=${pair%%:*}; appid=${pair#*:}
    # What the mini-program's login call gives: SIM_CODES fresh codes.
    python3 - "$SIM_PORT" "$appid" "$SIM_CODES" >"$WORK/codes-$appid.txt" <<'PY'
import http.client, json, sys
port, appid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", int(port))
for i in range(n):
    conn.request("POST", "/sim/login", json.dumps({"user": "bench%d" % (i % 100), "appid": appid}),
                 {"Content-Type": "application/json"})
    print(json.loads(conn.getresponse().read())["code"])
PY
    # The server's CPU time (user + system) over the run, per login: what a
    # login costs, the simulated platform's side included.
    cpu_before=$(awk '{print $14 + $15}' "/proc/$SIM_SERVER/stat")
    R=$(measure -c"$SIM_CONNECTIONS" -d"${SIM_DURATION}s" -s benches/wrk/codes.lua "$SIM/auth/login" -- "$WORK/codes-$appid.txt" "$appid")
    cpu_after=$(awk '{print $14 + $15}' "/proc/$SIM_SERVER/stat")
    IFS='|' read -r rps p50 p99 errors <<<"$R"
    # wrk's rate is over the whole duration, also when the codes ran out first.
    logins=$(awk -v r="$rps" -v d="$SIM_DURATION" 'BEGIN { printf "%.0f", r * d }')
    cpu_ms=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" -v n="$logins" 'BEGIN { printf "%.3f", t * 1000 / hz / n }')
    SIM_ROWS="$SIM_ROWS| \`$platform\` ($appid) | $logins | $cpu_ms | $p50 | ${p99%% (*} | $errors |"$'\n'
  done
  REPORT="$REPORT

Login per platform, against the simulator's seven apps in the same process (no network wait; $SIM_CODES codes per app, each used once, the run ending when they are or after SIM_DURATION=$SIM_DURATION s; $SIM_CONNECTIONS connections):

| platform (simulator app) | logins | server CPU ms per login | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|---|
${SIM_ROWS%$'\n'}"
fi

mkdir -p target/bench
echo "$REPORT" | tee "target/bench/load-$(date -u +%Y%m%dT%H%M%SZ).md"
