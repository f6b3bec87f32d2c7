# Shared by deploy/test-nginx.sh, test-image.sh and test-compose.sh (sourced,
# not run): counted checks, the watchdog that bounds a suite's run time, and
# small helpers. The sourcing script defines show_logs (what to print when a
# setup step fails) and sets CURL (an array) and T (its temp folder) before
# it uses req.

PASSED=0
FAILED=0

ok() { PASSED=$((PASSED + 1)); printf 'ok    %s\n' "$*"; }
bad() { FAILED=$((FAILED + 1)); printf 'FAIL  %s\n' "$*"; }
# check DESCRIPTION COMMAND...: one counted check.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else bad "$desc"; fi
}
# The closing line CI reads.
summary() { printf '%d passed, %d failed\n' "$PASSED" "$FAILED"; }
# die MESSAGE: a setup step failed; nothing after it can be checked.
die() {
  bad "$*"
  show_logs
  summary
  exit 1
}

# start_watchdog SECONDS: the suite is killed (SIGTERM to this shell, whose
# EXIT trap cleans up) if it runs longer; WATCHDOG is its pid, to stop it.
start_watchdog() {
  ( trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$1" & sp=$!
    wait "$sp"
    kill -TERM $$ 2>/dev/null ) &
  WATCHDOG=$!
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
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
# json FILE FIELD: a top-level field of a JSON document ("" when absent;
# objects and arrays as JSON).
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
