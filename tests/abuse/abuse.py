#!/usr/bin/env python3
"""wxauth abuse suite: docs/API.md's "At the edge" tried as an attacker would.

Starts a fake WeChat (this file, run with --fake-wechat) and a release wxauth
in production mode on loopback, then runs the attacks below against it, each bounded
in count and time, from its own 127.x source address. For every attack it
asserts (a) the documented answer, (b) the server's VmRSS stays under 64 MiB at
every sample (sampled every 100 ms from /proc), and (c) a well-behaved client on
127.0.0.1 gets a login (200) and GET /auth/me (200) answered during the attack.

  1 compressed and chunked bodies   4 junk codes (rate limit, WeChat quota)
  2 slow bodies and slow heads      5 /auth/refresh as a CPU lever; RSA key rules
  3 pipelining without reading      6 a hostile key folder (FIFO, /dev/zero, 300 MB)
and, at the server's own defaults (timeout, rate, trusted proxies, table):
  7 10,000 unfinished 16 KiB heads  11 head-cap and 100-continue probes
  8 10,000 idle connections         12 1.5M X-Forwarded-For addresses
  9 2,000 non-reading pipeliners    13 an address-rotating RS256 refresh flood
 10 500 slow readers (ss -tm)       14 7-13 at once, 10,000 connections

Usage: python3 tests/abuse/abuse.py --bin target/release/wxauth [--measure]
       [--only 1,4] [--kill-mib 1536] [--keep]
--measure runs the same attacks and prints the same lines but exits 0 whatever
fails (to record a "before"). Any server passing --kill-mib resident is killed
to protect the machine. Python 3.9+ standard library only; Linux (/proc).
"""

import argparse
import asyncio
import atexit
import base64
import collections
import ctypes
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib

HOST = "127.0.0.1"
APPID = "wxabuse000000000"
SECRET = "abuse-secret-not-a-real-one"
RATE = 20  # WXAUTH_CLIENT_RATE for the test
BURST = 5 * RATE
CLIENT_TIMEOUT = 2  # WXAUTH_CLIENT_TIMEOUT for the test
RSS_LIMIT_MIB = 64
AUTH_LIMIT = 4 * 1024
DECRYPT_LIMIT = 64 * 1024
MIB = 1024 * 1024

# --------------------------------------------------------------------------
# The fake WeChat (a separate process, so its work does not share our GIL).
# --------------------------------------------------------------------------


def fake_wechat_main():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    counts = collections.Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, obj, ctype="text/plain"):
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path == "/__stats":
                with lock:
                    return self.send_json(dict(counts), "application/json")
            if url.path == "/__reset":
                with lock:
                    counts.clear()
                return self.send_json({}, "application/json")
            if url.path != "/sns/jscode2session":
                with lock:
                    counts["unknown_path"] += 1
                return self.send_json({"errcode": 404, "errmsg": "no such api"})
            code = query.get("js_code", [""])[0]
            if (
                query.get("appid") != [APPID]
                or query.get("secret") != [SECRET]
                or query.get("grant_type") != ["authorization_code"]
            ):
                with lock:
                    counts["bad_credentials"] += 1
                return self.send_json({"errcode": 40013, "errmsg": "invalid appid"})
            if code.startswith("good-"):
                with lock:
                    counts["good"] += 1
                digest = hashlib.sha256(code.encode()).digest()
                openid = base64.urlsafe_b64encode(digest).decode()[:28]
                session_key = base64.b64encode(os.urandom(16)).decode()
                return self.send_json({"openid": openid, "session_key": session_key})
            with lock:
                counts["junk" if code.startswith("junk-") else "other"] += 1
            return self.send_json({"errcode": 40029, "errmsg": "invalid code"})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server((HOST, 0), Handler)
    print(server.server_address[1], flush=True)

    def exit_with_parent():
        sys.stdin.read()  # EOF when the suite exits, however it exits
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    server.serve_forever()


# --------------------------------------------------------------------------
# Child processes: every one is killed on every exit path.
# --------------------------------------------------------------------------

CHILDREN = []
TEMP_DIRS = []
KEEP = False


def _child_setup(as_limit):
    def setup():
        try:  # die with the suite even if it is SIGKILLed
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass
        if as_limit:
            resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

    return setup


def spawn(args, as_limit=8 << 30, **kwargs):
    """Popen from the main thread only (PDEATHSIG follows the forking thread)."""
    proc = subprocess.Popen(args, preexec_fn=_child_setup(as_limit), **kwargs)
    CHILDREN.append(proc)
    return proc


def cleanup():
    for proc in CHILDREN:
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=5)
            except Exception:
                pass
    if not KEEP:
        for d in TEMP_DIRS:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def tempdir(prefix):
    d = tempfile.mkdtemp(prefix=f"wxauth-abuse-{prefix}-")
    TEMP_DIRS.append(d)
    return d


# --------------------------------------------------------------------------
# /proc
# --------------------------------------------------------------------------


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def hwm_kib(pid):
    """VmHWM, the kernel's own peak of VmRSS (reset with reset_hwm)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_hwm(pid):
    """Resets VmHWM to the current RSS (Linux 4.0+: clear_refs 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class Sampler(threading.Thread):
    """VmRSS every `interval`; kills the process past `kill_mib` (machine guard)."""

    def __init__(self, proc, kill_mib, interval=0.1, fds=False):
        super().__init__(daemon=True)
        self.proc, self.kill_mib, self.interval, self.track_fds = proc, kill_mib, interval, fds
        self.samples = []  # (monotonic, rss KiB, fds or None, hwm KiB)
        self.killed_at_mib = None
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.halt.is_set():
            rss = rss_kib(self.proc.pid)
            if rss is None or self.proc.poll() is not None:
                break
            fds = fd_count(self.proc.pid) if self.track_fds else None
            hwm = hwm_kib(self.proc.pid) or 0
            with self.lock:
                self.samples.append((time.monotonic(), rss, fds, hwm))
            if rss > self.kill_mib * 1024:
                self.killed_at_mib = rss // 1024
                try:
                    self.proc.kill()
                except OSError:
                    pass
                break
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        self.join(timeout=2)

    def window(self, since=0.0):
        with self.lock:
            return [s for s in self.samples if s[0] >= since]

    def peak_mib(self, since=0.0, hwm=True):
        """The greatest sample since `since`; with `hwm`, also the kernel's
        VmHWM (exact, between samples too) when it was reset at `since`."""
        w = self.window(since)
        peak = max((s[3] if hwm else s[1]) for s in w) if w else 0
        peak = max(peak, max((s[1] for s in w), default=0)) / 1024
        return max(peak, self.killed_at_mib or 0)

    def peak_fds(self, since=0.0):
        return max((s[2] for s in self.window(since) if s[2] is not None), default=0)


# --------------------------------------------------------------------------
# HTTP/1.1 on raw sockets (so an attacker can do what a library would not).
# --------------------------------------------------------------------------


def parse_response(buf, eof=False):
    """(status, headers, body, consumed) once `buf` holds a whole response."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    status = int(m.group(1)) if m else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", start
    if "chunked" in headers.get("transfer-encoding", "").lower():
        pos, body = start, bytearray()
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(bytes(buf[pos:nl]).split(b";")[0] or b"0", 16)
            if size == 0:
                if len(buf) < nl + 4:
                    return None
                return status, headers, bytes(body), nl + 4
            if len(buf) < nl + 2 + size + 2:
                return None
            body += buf[nl + 2 : nl + 2 + size]
            pos = nl + 2 + size + 2
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(buf) < start + n:
            return None
        return status, headers, bytes(buf[start : start + n]), start + n
    if eof:
        return status, headers, bytes(buf[start:]), len(buf)
    return None


class Resp:
    def __init__(self, status=None, headers=None, body=b"", latency=0.0, error=None, connect=None):
        self.status, self.headers, self.body = status, headers or {}, body
        self.latency, self.error = latency, error
        self.connect = connect  # seconds to connect, when it did

    def json(self):
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def code(self):
        j = self.json()
        return j.get("code") if isinstance(j, dict) else None

    def __str__(self):
        if self.status is None:
            return f"no answer ({self.error})"
        return f"{self.status} {self.code or ''}".strip()


def request_bytes(method, path, port, body=None, headers=None, close=True):
    head = {"Host": f"{HOST}:{port}"}
    if close:
        head["Connection"] = "close"
    if body is not None:
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            head["Content-Type"] = "application/json"
        head["Content-Length"] = str(len(body))
    head.update(headers or {})
    text = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
    return text.encode() + b"\r\n" + (body or b"")


def http(method, path, port, body=None, headers=None, src=HOST, timeout=5.0):
    """One request on a fresh connection; never raises, never waits past `timeout`."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    s = socket.socket()
    connect = None
    try:
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect((HOST, port))
        connect = time.monotonic() - t0
        s.sendall(request_bytes(method, path, port, body, headers))
        buf = bytearray()
        while True:
            r = parse_response(buf)
            if r:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            s.settimeout(left)
            data = s.recv(65536)
            if not data:
                r = parse_response(buf, eof=True)
                if r:
                    break
                raise ConnectionError(f"closed after {len(buf)} bytes")
            buf += data
        return Resp(r[0], r[1], r[2], time.monotonic() - t0, connect=connect)
    except (OSError, ValueError) as e:
        return Resp(None, latency=time.monotonic() - t0, error=f"{type(e).__name__}: {e}", connect=connect)
    finally:
        s.close()


def login(port, tag="x", timeout=5.0):
    code = f"good-{tag}-{os.getpid()}-{random.getrandbits(48):x}"
    r = http("POST", "/auth/login", port, body={"code": code}, timeout=timeout)
    token = (r.json() or {}).get("access_token") if r.status == 200 else None
    return r, token


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def aconnect(src, port, timeout=5.0, rcvbuf=None):
    loop = asyncio.get_running_loop()
    s = socket.socket()
    s.setblocking(False)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    try:
        s.bind((src, 0))
        await asyncio.wait_for(loop.sock_connect(s, (HOST, port)), timeout)
    except BaseException:
        s.close()
        raise
    return s


async def arecv_response(sock, buf, deadline):
    loop = asyncio.get_running_loop()
    while True:
        r = parse_response(buf)
        if r:
            del buf[: r[3]]
            return r
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time")
        data = await asyncio.wait_for(loop.sock_recv(sock, 65536), left)
        if not data:
            r = parse_response(buf, eof=True)
            if r:
                del buf[:]
                return r
            raise EOFError(f"closed after {len(buf)} bytes")
        buf += data


# --------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, ctx, keys_dir, extra=None, name="wxauth"):
        self.ctx, self.keys_dir, self.name = ctx, keys_dir, name
        self.workdir = tempdir(name)  # the cwd: an empty folder, no .env
        self.log_path = os.path.join(self.workdir, "wxauth.log")
        self.extra = extra or {}
        self.proc = None
        self.sampler = None
        self.stopped = False  # by us: its exit is no death

    def env(self):
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "WXAUTH_BIND": f"{HOST}:{self.port}",
            "WECHAT_APPID": APPID,
            "WECHAT_SECRET": SECRET,
            "WECHAT_API_BASE": f"http://{HOST}:{self.ctx.fake_port}",
            "WXAUTH_KEYS_DIR": self.keys_dir,
            "WXAUTH_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT),
            "WXAUTH_CLIENT_RATE": str(RATE),
            "WXAUTH_TRUSTED_PROXIES": "none",
            "WXAUTH_SHUTDOWN_TIMEOUT": "10",
            "RUST_LOG": "warn",
        }
        env.update(self.extra)
        return {k: v for k, v in env.items() if v is not None}

    def start(self, timeout=15.0, expect_ready=True):
        """Starts and waits for /healthz; False if it exited (see log_tail)."""
        for _attempt in range(3):
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.proc = spawn(
                [self.ctx.bin, "serve"], env=self.env(), cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if http("GET", "/healthz", self.port, timeout=1).status == 200:
                    self.sampler = Sampler(self.proc, self.ctx.kill_mib, fds=True)
                    self.sampler.start()
                    return True
                time.sleep(0.05)
            if self.proc.poll() is None:
                return False  # running but not answering
            if "in use" not in self.log_tail(3):
                return False
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_mib(self):
        k = rss_kib(self.proc.pid)
        return None if k is None else k / 1024

    def fds(self):
        return fd_count(self.proc.pid)

    def log_tail(self, n=12):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join("      | " + l[:300] for l in lines[-n:])
        except OSError:
            return ""

    def stop(self, timeout=6.0):
        """SIGTERM, then SIGKILL after `timeout`; returns seconds to exit or None."""
        if self.sampler:
            self.sampler.stop()
        if not self.alive():
            return 0.0
        self.stopped = True
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
            return time.monotonic() - t0
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return None


# --------------------------------------------------------------------------
# The well-behaved client
# --------------------------------------------------------------------------


class Prober(threading.Thread):
    """From 127.0.0.1: login (fake code -> 200 token), then GET /auth/me (200),
    over and over until stopped."""

    def __init__(self, port, period=0.2):
        super().__init__(daemon=True)
        self.port, self.period = port, period
        self.halt = threading.Event()
        self.rounds = 0
        self.ok = 0
        self.failures = []
        self.latencies = []
        self.cond = threading.Condition()

    def run(self):
        while not self.halt.is_set():
            r, token = login(self.port, "probe")
            if token:
                me = http("GET", "/auth/me", self.port, headers=bearer(token))
                good = me.status == 200 and (me.json() or {}).get("openid")
                detail = f"/auth/me: {me}"
                self.latencies.append(max(r.latency, me.latency))
            else:
                good, detail = False, f"login: {r}"
            with self.cond:
                self.rounds += 1
                if good:
                    self.ok += 1
                else:
                    self.failures.append(detail)
                self.cond.notify_all()
            self.halt.wait(self.period)

    def wait_rounds(self, n, timeout):
        with self.cond:
            self.cond.wait_for(lambda: self.rounds >= n, timeout)

    def stop(self):
        self.halt.set()
        self.join(timeout=12)


class LatencyProbe(threading.Thread):
    """GET /healthz and GET /auth/me alternately on fresh connections."""

    def __init__(self, port, token, period=0.025):
        super().__init__(daemon=True)
        self.port, self.token, self.period = port, token, period
        self.halt = threading.Event()
        self.lat = {"/healthz": [], "/auth/me": []}
        self.bad = collections.Counter()
        self.slowest = {}  # path -> the slowest Resp, to tell a slow connect from a slow answer

    def run(self):
        i = 0
        while not self.halt.is_set():
            path = "/healthz" if i % 2 == 0 else "/auth/me"
            i += 1
            r = http("GET", path, self.port, headers=bearer(self.token), timeout=5)
            self.lat[path].append(r.latency)
            if path not in self.slowest or r.latency > self.slowest[path].latency:
                self.slowest[path] = r
            if r.status != 200:
                self.bad[f"{path} {r}"] += 1
            self.halt.wait(self.period)

    def stop(self):
        self.halt.set()
        self.join(timeout=8)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


class Context:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin)
        self.measure = args.measure
        self.kill_mib = args.kill_mib
        self.passed = 0
        self.failed = 0
        self.rows = {}
        self.fake_port = None

    def check(self, attack, ok, text, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        self.rows.setdefault(attack, {"fail": 0, "peak": None, "note": ""})
        if not ok:
            self.rows[attack]["fail"] += 1
        print(f"{'PASS' if ok else 'FAIL'} [{attack}] {text}", flush=True)
        if detail and not ok:
            print(detail, flush=True)
        return ok

    def fake_stats(self):
        r = http("GET", "/__stats", self.fake_port)
        return r.json() or {}

    def fake_reset(self):
        http("GET", "/__reset", self.fake_port)


def new_keys(ctx, alg="eddsa", kid="abuse1"):
    d = tempdir("keys")
    out = subprocess.run(
        [ctx.bin, "keygen", "--alg", alg, "--dir", d, "--kid", kid],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True, timeout=60, cwd=d,
    )
    if out.returncode != 0:
        raise RuntimeError(f"keygen failed: {out.stderr.decode()[-500:]}")
    return d


CONNTRACK = "/proc/sys/net/netfilter/nf_conntrack_"
CONNTRACK_ROOM = 1 << 20  # entries: the suite's ~200,000 at its peak, and what ran before it


def conntrack_entries():
    """(entries, table size) of the kernel's connection tracking, or None
    where netfilter tracks nothing."""
    try:
        with open(CONNTRACK + "count") as f, open(CONNTRACK + "max") as g:
            return int(f.read()), int(g.read())
    except (OSError, ValueError):
        return None


def conntrack_drops():
    """Packets connection tracking has dropped so far (a full table), or None."""
    try:
        with open("/proc/net/stat/nf_conntrack") as f:
            head = f.readline().split()
            rows = [line.split() for line in f]
    except OSError:
        return None
    cols = [head.index(c) for c in ("drop", "early_drop", "insert_failed") if c in head]
    return sum(int(row[i], 16) for row in rows for i in cols if i < len(row))


def roomy_conntrack():
    """Where netfilter tracks connections (podman's NAT rules load it), every
    loopback connection holds an entry for two minutes after it closes
    (TIME_WAIT), and the attacks open about a million in three minutes. A
    full table drops new SYNs: the well-behaved client's connect then waits
    1-3 s for its retransmit, a fault of the host, not of the server. So the
    table is raised to CONNTRACK_ROOM, and left so: put back at exit, it
    would be fuller than its old size for two minutes, and whatever runs
    next could not connect."""
    now = conntrack_entries()
    if now is None or now[1] >= CONNTRACK_ROOM:
        return
    try:
        with open(CONNTRACK + "max", "w") as f:
            f.write(str(CONNTRACK_ROOM))
    except OSError as e:
        print(f"     WARNING: connection tracking holds {now[1]:,} entries at most and cannot be raised ({e}); "
              "a full table shows as connects of 1-3 s", flush=True)
        return
    print(f"     connection tracking: table raised from {now[1]:,} to {CONNTRACK_ROOM:,} entries "
          f"({now[0]:,} in use; sysctl net.netfilter.nf_conntrack_max={now[1]} puts it back)", flush=True)


class Attack:
    """The common frame: a fresh server, its sampler, the prober, and the (b)
    and (c) checks, the server's death reported with its log tail."""

    def __init__(self, ctx, key, title, keys_dir=None, extra=None, alg="eddsa"):
        self.ctx, self.key, self.title = ctx, key, title
        self.keys_dir = keys_dir or new_keys(ctx, alg)
        self.server = Server(ctx, self.keys_dir, extra, name=f"attack{key}")
        self.prober = None
        self.t0 = None
        self.drops0 = None
        ctx.rows[key] = {"fail": 0, "peak": None, "note": "", "title": title}

    def check(self, ok, text, detail=""):
        return self.ctx.check(self.key, ok, text, detail)

    def note(self, text):
        row = self.ctx.rows[self.key]
        row["note"] = (row["note"] + "; " if row["note"] else "") + text

    def __enter__(self):
        print(f"--- attack {self.key}: {self.title}", flush=True)
        if not self.server.start():
            self.check(False, "server starts", self.server.log_tail())
            self.note("did not start")
            self.server.stop()
            raise AttackAborted()
        time.sleep(0.3)  # let start-up allocations settle before the idle reading
        self.idle_mib = self.server.rss_mib() or 0
        self.idle_fds = self.server.fds() or 0
        tracked = conntrack_entries()
        print(f"     idle: {self.idle_mib:.1f} MiB, {self.idle_fds} fds"
              + (f"; conntrack {tracked[0]:,} of {tracked[1]:,}" if tracked else ""), flush=True)
        return self

    def begin(self):
        """The attack starts: the prober and the peak window start with it."""
        self.hwm_reset = reset_hwm(self.server.proc.pid)
        self.drops0 = conntrack_drops()
        self.t0 = time.monotonic()
        self.prober = Prober(self.server.port)
        self.prober.start()

    def end(self):
        """The attack ends: (b) and (c)."""
        self.prober.wait_rounds(2, 10)
        self.prober.stop()
        drops = conntrack_drops()
        if drops is not None and self.drops0 is not None and drops > self.drops0:
            print(f"     WARNING: the host's connection tracking dropped {drops - self.drops0} packets during the "
                  "attack (its table full): connects waited for SYN retransmits", flush=True)
        s = self.server.sampler
        hwm = hwm_kib(self.server.proc.pid) if self.server.alive() else None
        peak = s.peak_mib(self.t0, hwm=self.hwm_reset)
        if hwm and self.hwm_reset:
            peak = max(peak, hwm / 1024)
        self.ctx.rows[self.key]["peak"] = peak
        n = len(s.window(self.t0))
        if s.killed_at_mib:
            self.note(f"killed by the suite at {s.killed_at_mib} MiB")
        self.check(
            peak < RSS_LIMIT_MIB and n > 0,
            f"(b) RSS under {RSS_LIMIT_MIB} MiB at every sample: peak {peak:.1f} MiB over {n} samples"
            + (" and VmHWM" if self.hwm_reset else "")
            + (f", KILLED past the {self.ctx.kill_mib} MiB guard" if s.killed_at_mib else ""),
        )
        p = self.prober
        self.check(
            p.rounds > 0 and p.ok == p.rounds,
            f"(c) well-behaved client: {p.ok}/{p.rounds} login + /auth/me rounds answered 200"
            + (f", slowest {max(p.latencies) * 1000:.0f} ms" if p.latencies else ""),
            "      " + "; ".join(f"{k} x{v}" for k, v in collections.Counter(p.failures).most_common(3)),
        )

    def __exit__(self, etype, exc, tb):
        if etype is not None and etype is not AttackAborted:
            self.check(False, f"attack ran to its end ({etype.__name__}: {exc})",
                       "".join(traceback.format_exception(etype, exc, tb))[-2000:])
        if self.prober and self.prober.is_alive():
            self.prober.stop()
        killed = self.server.sampler and self.server.sampler.killed_at_mib
        if not self.server.alive() and not killed and not self.server.stopped and self.server.proc is not None:
            self.check(False, f"server still running after the attack (exit {self.server.proc.returncode})",
                       self.server.log_tail())
            self.note("server died")
        self.server.stop()
        return etype is None or issubclass(etype, Exception)


class AttackAborted(Exception):
    pass


def status_summary(resps):
    return ", ".join(f"{k} x{v}" for k, v in collections.Counter(str(r) for r in resps).most_common(4))


# --------------------------------------------------------------------------
# 1. Compressed and chunked bodies
# --------------------------------------------------------------------------


def gzip_bomb(inflated):
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zero = bytes(MIB)
    out = [comp.compress(zero) for _ in range(inflated // MIB)]
    out.append(comp.flush())
    return b"".join(out)


def chunked(data, size):
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


async def stream_request(src, port, method, path, headers, pieces, timeout=15.0):
    """Sends the head, then the body piece by piece while reading: a server may
    answer (and close) before the body is through. Returns Resp."""
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        sock = await aconnect(src, port)
    except (OSError, asyncio.TimeoutError) as e:
        return Resp(None, error=f"connect: {e}")
    buf = bytearray()
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"

    async def send_all():
        await loop.sock_sendall(sock, head.encode())
        for piece in pieces:
            await loop.sock_sendall(sock, piece)
            await asyncio.sleep(0)

    sender = asyncio.ensure_future(send_all())
    try:
        r = await arecv_response(sock, buf, deadline)
        return Resp(r[0], r[1], r[2], time.monotonic() - t0)
    except (OSError, EOFError, TimeoutError, asyncio.TimeoutError) as e:
        return Resp(None, latency=time.monotonic() - t0, error=f"{type(e).__name__}: {e}")
    finally:
        sender.cancel()
        try:
            await sender
        except BaseException:
            pass
        sock.close()


def attack1(ctx):
    """compressed and chunked bodies"""
    with Attack(ctx, "1", "compressed and chunked bodies") as a:
        port = a.server.port
        _, token = login(port, "a1")
        if not a.check(token is not None, "setup: a token for /wx/decrypt"):
            raise AttackAborted()
        bomb = gzip_bomb(128 * MIB)
        print(f"     gzip bomb: {len(bomb) // 1024} KiB inflating to 128 MiB", flush=True)
        src = "127.0.0.3"
        json_h = {"Content-Type": "application/json"}
        gz_chunked = dict(json_h, **{"Content-Encoding": "gzip", "Transfer-Encoding": "chunked"})
        gz_length = dict(json_h, **{"Content-Encoding": "gzip", "Content-Length": str(len(bomb))})
        plain_chunked = dict(json_h, **{"Transfer-Encoding": "chunked"})
        auth_h = bearer(token)
        big_auth = b'{"code":"' + b"a" * (4 * AUTH_LIMIT) + b'"}'
        big_decrypt = b'{"encryptedData":"' + b"A" * (2 * DECRYPT_LIMIT) + b'","iv":"AAAAAAAAAAAAAAAAAAAAAA=="}'
        fits = b'{"code":"good-chunked-%d"' % random.getrandbits(32) + b" " * 3000 + b"}"
        groups = collections.defaultdict(list)

        async def wave():
            jobs = []
            for _ in range(5):
                jobs.append(("gzip chunked /auth/login", stream_request(src, port, "POST", "/auth/login", gz_chunked, chunked(bomb, len(bomb)))))
            for _ in range(2):
                jobs.append(("gzip chunked /wx/decrypt", stream_request(src, port, "POST", "/wx/decrypt", dict(gz_chunked, **auth_h), chunked(bomb, len(bomb)))))
            jobs.append(("gzip Content-Length /auth/login", stream_request(src, port, "POST", "/auth/login", gz_length, [bomb])))
            jobs.append(("gzip Content-Length /wx/decrypt", stream_request(src, port, "POST", "/wx/decrypt", dict(gz_length, **auth_h), [bomb])))
            for _ in range(3):
                jobs.append(("chunked 16 KiB /auth/login", stream_request(src, port, "POST", "/auth/login", plain_chunked, chunked(big_auth, 1024))))
                jobs.append(("chunked 128 KiB /wx/decrypt", stream_request(src, port, "POST", "/wx/decrypt", dict(plain_chunked, **auth_h), chunked(big_decrypt, 4096))))
            results = await asyncio.gather(*(j[1] for j in jobs))
            for (name, _), r in zip(jobs, results):
                groups[name].append(r)

        a.begin()
        for _ in range(3):  # three waves, about 50 requests: inside the burst
            asyncio.run(wave())
            if not a.server.alive() or time.monotonic() - a.t0 > 20:
                break
        # a chunked body under the limit still logs in (from the prober's address)
        ok_chunked = asyncio.run(stream_request(HOST, port, "POST", "/auth/login", plain_chunked, chunked(fits, 512)))
        a.end()
        for name, expect, code in [
            ("gzip chunked /auth/login", 415, "unsupported_media_type"),
            ("gzip chunked /wx/decrypt", 415, "unsupported_media_type"),
            ("gzip Content-Length /auth/login", 415, "unsupported_media_type"),
            ("gzip Content-Length /wx/decrypt", 415, "unsupported_media_type"),
            ("chunked 16 KiB /auth/login", 413, "payload_too_large"),
            ("chunked 128 KiB /wx/decrypt", 413, "payload_too_large"),
        ]:
            rs = groups[name]
            good = [r for r in rs if r.status == expect and r.code == code
                    and "problem+json" in r.headers.get("content-type", "")]
            a.check(rs and len(good) == len(rs),
                    f"(a) {name}: {len(good)}/{len(rs)} -> {expect} {code} [{status_summary(rs)}]")
        a.check(ok_chunked.status == 200, f"(a) chunked body under the limit /auth/login -> 200 [{ok_chunked}]")


# --------------------------------------------------------------------------
# 2. Slow bodies, slow heads
# --------------------------------------------------------------------------


def attack2(ctx, conns=2000):
    """slow bodies and slow heads"""
    with Attack(ctx, "2", "slow bodies and slow heads") as a:
        port = a.server.port
        slack = 6.0
        limit = CLIENT_TIMEOUT + slack
        # 25 source addresses x 80: each inside the rate limiter's burst, so
        # every connection reaches the body and waits on the timeout.
        sources = [f"127.0.1.{i}" for i in range(1, 26)]
        head = (f"POST /auth/login HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: 1000\r\n\r\n{{").encode()
        outcome = []  # (closed_after or None, status or None)
        opened = [0]

        async def slow_body(i, gate):
            loop = asyncio.get_running_loop()
            async with gate:
                try:
                    sock = await aconnect(sources[i % len(sources)], port, timeout=10)
                    await loop.sock_sendall(sock, head)
                except (OSError, asyncio.TimeoutError) as e:
                    outcome.append(("connect failed", str(e)))
                    return
            opened[0] += 1
            t0 = time.monotonic()
            buf = bytearray()
            try:
                while True:
                    left = t0 + limit - time.monotonic()
                    if left <= 0:
                        outcome.append((None, None))
                        return
                    try:
                        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), left)
                    except asyncio.TimeoutError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        r = parse_response(buf, eof=True)
                        outcome.append((time.monotonic() - t0, r[0] if r else None))
                        return
                    buf += data
            finally:
                sock.close()

        async def slowloris(i):
            loop = asyncio.get_running_loop()
            try:
                sock = await aconnect("127.0.0.5", port)
            except (OSError, asyncio.TimeoutError) as e:
                return ("connect failed", str(e))
            t0 = time.monotonic()
            try:
                await loop.sock_sendall(sock, f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode())
                while time.monotonic() - t0 < limit:
                    try:
                        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 0.25)
                        if not data:
                            return (time.monotonic() - t0, None)
                        # an answer (408): read on to the close
                    except asyncio.TimeoutError:
                        try:
                            await loop.sock_sendall(sock, b"a")
                        except OSError:
                            return (time.monotonic() - t0, None)
                    except OSError:
                        return (time.monotonic() - t0, None)
                return (None, None)
            finally:
                sock.close()

        async def run():
            gate = asyncio.Semaphore(200)
            tasks = [asyncio.ensure_future(slow_body(i, gate)) for i in range(conns)]
            loris = [asyncio.ensure_future(slowloris(i)) for i in range(10)]
            await asyncio.gather(*tasks)
            return await asyncio.gather(*loris)

        a.begin()
        loris = asyncio.run(run())
        peak_fds = a.server.sampler.peak_fds(a.t0)
        a.end()
        closed = [o for o in outcome if isinstance(o[0], float)]
        open_ = [o for o in outcome if o[0] is None]
        failed = [o for o in outcome if o[0] == "connect failed"]
        statuses = collections.Counter(str(o[1]) for o in closed)
        slowest = max((o[0] for o in closed), default=0)
        print(f"     {opened[0]} slow bodies opened (peak {peak_fds} server fds); closes: "
              f"{dict(statuses)}, slowest {slowest:.1f} s", flush=True)
        a.check(len(closed) == conns,
                f"(a) slow bodies closed by the server within {limit:.0f} s: {len(closed)}/{conns}"
                f" (still open {len(open_)}, connect failed {len(failed)}), slowest {slowest:.1f} s")
        lclosed = [l for l in loris if isinstance(l[0], float)]
        a.check(len(lclosed) == len(loris),
                f"(a) slowloris heads closed within {limit:.0f} s: {len(lclosed)}/{len(loris)}"
                + (f", slowest {max(l[0] for l in lclosed):.1f} s" if lclosed else ""))
        # the client side is closed now: fds and memory come back
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and a.server.alive():
            fds, rss = a.server.fds() or 0, a.server.rss_mib() or 0
            if fds <= a.idle_fds + 8 and rss <= a.idle_mib + 24:
                break
            time.sleep(0.1)
        fds, rss = a.server.fds() or 0, a.server.rss_mib() or 0
        a.check(fds <= a.idle_fds + 8, f"(a) fds back after the close: {fds} (idle {a.idle_fds}, peak {peak_fds})")
        a.check(rss <= a.idle_mib + 24,
                f"(a) RSS back near idle after the close: {rss:.1f} MiB (idle {a.idle_mib:.1f}, bound idle + 24)")
        a.note(f"{len(closed)}/{conns} closed, slowest {slowest:.1f} s; after {rss:.0f} MiB, {fds} fds")


# --------------------------------------------------------------------------
# 3. Pipelining without reading
# --------------------------------------------------------------------------


def attack3(ctx, conns=20, per_conn=2000, hold=6.0):
    """pipelining without reading"""
    with Attack(ctx, "3", "pipelining without reading") as a:
        port = a.server.port
        one = f"GET /openapi.json HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
        size = len(http("GET", "/openapi.json", port).body)
        socks, pending = [], []
        for _ in range(conns):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # read nothing, buffer little
            s.bind(("127.0.0.6", 0))
            s.settimeout(5)
            s.connect((HOST, port))
            s.setblocking(False)
            socks.append(s)
            pending.append(memoryview(one * per_conn))
        a.begin()
        written = 0
        end = time.monotonic() + hold
        while time.monotonic() < end and a.server.alive():
            for i, s in enumerate(socks):
                while len(pending[i]):
                    try:
                        n = s.send(pending[i][:65536])
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        pending[i] = memoryview(b"")
                        break
                    written += n
                    pending[i] = pending[i][n:]
            time.sleep(0.05)
        a.prober.wait_rounds(2, 10)
        during = http("GET", "/healthz", port, timeout=5)
        for s in socks:  # close hard: an attacker's RST
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            s.close()
        a.end()
        sent = written // len(one)
        print(f"     {sent} of {conns * per_conn} pipelined requests accepted by the kernel/server "
              f"(answer {size} bytes each: {sent * size / MIB:.0f} MiB if all were queued)", flush=True)
        # 3 s: generous on a shared 2-core machine; a starved server times out (5 s).
        a.check(during.status == 200 and during.latency < 3.0,
                f"(a) /healthz answered while {conns} connections pipeline: {during} in {during.latency * 1000:.0f} ms")
        a.note(f"{sent} requests pipelined")


# --------------------------------------------------------------------------
# 4. Junk codes
# --------------------------------------------------------------------------


class Tally:
    def __init__(self):
        self.sent = 0
        self.status = collections.Counter()
        self.errors = collections.Counter()
        self.first = {}
        self.first_t = None
        self.last_t = None


async def hammer(src, port, make, deadline, tally, max_requests):
    loop = asyncio.get_running_loop()
    sock, buf = None, bytearray()
    while time.monotonic() < deadline and tally.sent < max_requests:
        try:
            if sock is None:
                sock, buf = await aconnect(src, port), bytearray()
            tally.first_t = tally.first_t or time.monotonic()
            tally.sent += 1
            await asyncio.wait_for(loop.sock_sendall(sock, make()), 5)
            status, headers, body, _ = await arecv_response(sock, buf, time.monotonic() + 10)
            tally.last_t = time.monotonic()  # the server decided by now
            tally.status[status] += 1
            if status not in tally.first:
                tally.first[status] = Resp(status, headers, body)
            if headers.get("connection", "").lower() == "close":
                sock.close()
                sock = None
        except (OSError, EOFError, TimeoutError, asyncio.TimeoutError) as e:
            tally.errors[type(e).__name__] += 1
            if sock:
                sock.close()
            sock = None
            await asyncio.sleep(0.01)
    if sock:
        sock.close()


def check_429(a, tally, what):
    r = tally.first.get(429)
    ok = (r is not None and r.code == "rate_limited" and "problem+json" in r.headers.get("content-type", "")
          and r.headers.get("retry-after", "").isdigit() and int(r.headers["retry-after"]) >= 1)
    a.check(ok, f"(a) {what} past the burst -> 429 rate_limited with Retry-After"
            + (f" [429: code {r.code}, Retry-After {r.headers.get('retry-after')!r}]" if r else " [no 429 seen]"))


def attack4(ctx, conns=500, seconds=6.0, max_requests=200_000):
    """junk codes"""
    with Attack(ctx, "4", "junk codes") as a:
        port = a.server.port
        ctx.fake_reset()
        tally = Tally()
        counter = [0]

        def make():
            counter[0] += 1
            return request_bytes("POST", "/auth/login", port, {"code": f"junk-{counter[0]}"}, close=False)

        async def run():
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(hammer("127.0.0.2", port, make, deadline, tally, max_requests)
                                   for _ in range(conns)))

        a.begin()
        asyncio.run(run())
        a.end()
        time.sleep(0.2)  # calls in flight reach the fake
        stats = ctx.fake_stats()
        span = (tally.last_t or 0) - (tally.first_t or 0)
        bound = BURST + RATE * span + 15
        junk = stats.get("junk", 0)
        print(f"     {tally.sent} junk logins in {span:.1f} s: {dict(tally.status)}"
              + (f", errors {dict(tally.errors)}" if tally.errors else "")
              + f"; fake WeChat saw {junk} junk calls ({stats})", flush=True)
        check_429(a, tally, "junk codes")
        a.check(junk <= bound, f"(a) WeChat calls from the attack: {junk} <= burst + rate x {span:.1f} s + 15 = {bound:.0f}")
        a.note(f"{tally.sent} junk logins, {junk} reached WeChat ({junk / max(span, 0.1):.0f}/s)")
        p = a.prober
        a.note(f"real logins {p.ok}/{p.rounds}")


# --------------------------------------------------------------------------
# 5. /auth/refresh as a CPU lever; the RSA key rules
# --------------------------------------------------------------------------


RSA8192 = {}


def start_rsa8192(ctx):
    """openssl takes 10-60 s for an 8192-bit key: start it early, niced, and
    keep it in a cache folder for the next run."""
    cache = os.environ.get("WXAUTH_ABUSE_CACHE", os.path.join(tempfile.gettempdir(), "wxauth-abuse-cache"))
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, "rsa8192.pem")
    RSA8192["path"] = path
    if not os.path.exists(path) and shutil.which("openssl"):
        RSA8192["proc"] = spawn(
            ["nice", "-n", "19", "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:8192",
             "-out", path + ".tmp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_rsa8192(timeout=180):
    path, proc = RSA8192.get("path"), RSA8192.get("proc")
    if proc is not None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return None
        if proc.returncode == 0:
            os.replace(path + ".tmp", path)
    return path if path and os.path.exists(path) else None


def refused_key(ctx, a, pem_path, name, reason_re, what):
    d = tempdir("refused")
    dest = os.path.join(d, name)
    shutil.copyfile(pem_path, dest)
    os.chmod(dest, 0o600)
    srv = Server(ctx, d, name=f"refuse-{name}")
    srv.port = free_port()
    log = open(srv.log_path, "ab")
    srv.proc = spawn([ctx.bin, "serve"], env=srv.env(), cwd=srv.workdir,
                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 20
    ready = False
    while time.monotonic() < deadline and srv.proc.poll() is None:
        if http("GET", "/readyz", srv.port, timeout=1).status == 200:
            ready = True
            break
        time.sleep(0.1)
    alive = srv.proc.poll() is None
    srv.stop(timeout=3)
    text = open(srv.log_path, "rb").read().decode("utf-8", "replace")
    stem = name.rsplit(".", 1)[0]
    named = stem in text
    reason = re.search(reason_re, text, re.I) is not None
    exited = not alive and srv.proc.returncode not in (0, None)
    a.check(exited and named and reason,
            f"(a) start-up with only {what} refused, naming the file and the reason"
            f" [{'served (accepted the key)' if ready else 'still running' if alive else f'exit {srv.proc.returncode}'}"
            f", names file: {named}, gives reason: {reason}]",
            srv.log_tail(4))


def attack5(ctx, conns=100, seconds=6.0, max_requests=250_000):
    """/auth/refresh as a CPU lever (RS256)"""
    with Attack(ctx, "5", "/auth/refresh as a CPU lever (RS256)", alg="rs256") as a:
        port = a.server.port
        r, token = login(port, "a5")
        if not a.check(token is not None, f"setup: an RS256 token [{r}]"):
            raise AttackAborted()
        tally = Tally()
        req = request_bytes("POST", "/auth/refresh", port, headers=bearer(token), close=False)
        lat = LatencyProbe(port, token)

        async def run():
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(hammer("127.0.0.2", port, lambda: req, deadline, tally, max_requests)
                                   for _ in range(conns)))

        a.begin()
        lat.start()
        asyncio.run(run())
        lat.stop()
        a.end()
        span = (tally.last_t or 0) - (tally.first_t or 0)
        bound = BURST + RATE * span + 15
        ok = tally.status.get(200, 0)
        print(f"     {tally.sent} refreshes in {span:.1f} s: {dict(tally.status)}"
              + (f", errors {dict(tally.errors)}" if tally.errors else ""), flush=True)
        check_429(a, tally, "refreshes")
        a.check(ok <= bound, f"(a) refreshes signed: {ok} <= burst + rate x {span:.1f} s + 15 = {bound:.0f}")
        for path in ("/healthz", "/auth/me"):
            v = lat.lat[path]
            p50, p99 = pct(v, 50) * 1000, pct(v, 99) * 1000
            bad = sum(n for k, n in lat.bad.items() if k.startswith(path + " "))
            # 2 s: generous on a shared 2-core machine (p99 of hundreds of ms
            # is the load's, not a fault); starvation shows as errors or 10 s.
            a.check(v and p99 < 2000 and bad == 0,
                    f"(c) {path} from 127.0.0.1 during the attack: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(v)}"
                    + (f", {bad} not 200" if bad else ""))
            a.note(f"{path} p99 {p99:.0f} ms")
        a.note(f"{ok} refreshes signed ({ok / max(span, 0.1):.0f}/s)")

        # The RSA rules, each alone in a key folder.
        e3 = os.path.join(tempdir("e3"), "e3.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-pkeyopt", "rsa_keygen_pubexp:3", "-out", e3], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        refused_key(ctx, a, e3, "rsae3.pem", r"65537|exponent", "an RSA-2048 key with e=3")
        big = wait_rsa8192()
        if a.check(big is not None, "setup: an RSA-8192 key (openssl genpkey)"):
            refused_key(ctx, a, big, "rsa8192.pem", r"8192|4096|bits|too (large|big|long)", "an RSA-8192 key")


# --------------------------------------------------------------------------
# 6. A hostile key folder
# --------------------------------------------------------------------------


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def attack6(ctx):
    """hostile key folder"""
    extra = {"WXAUTH_KEYS_RELOAD": "1", "WXAUTH_KEY_ACTIVATION_DELAY": "600"}
    with Attack(ctx, "6", "hostile key folder", extra=extra) as a:
        port = a.server.port
        d = a.keys_dir
        a.begin()
        os.mkfifo(os.path.join(d, "evil.pem"), 0o600)
        os.symlink("/dev/zero", os.path.join(d, "zero.pem"))
        with open(os.path.join(d, "big.pem"), "wb") as f:
            f.truncate(300 * MIB)  # sparse: no disk, but 300 MB to a reader
        # let at least two timed rescans (every 1 s) meet the traps
        time.sleep(2.5)
        staging = new_keys(ctx, "eddsa", "abuse2")
        os.replace(os.path.join(staging, "abuse2.pem"), os.path.join(d, "abuse2.pem"))
        t_hup = time.monotonic()
        a.server.proc.send_signal(signal.SIGHUP)
        seen = None
        while time.monotonic() - t_hup < 8 and a.server.alive():
            j = http("GET", "/.well-known/jwks.json", port, timeout=2).json() or {}
            if any(k.get("kid") == "abuse2" for k in j.get("keys", [])):
                seen = time.monotonic() - t_hup
                break
            time.sleep(0.1)
        a.check(seen is not None and seen < 5,
                f"(a) new kid in the JWK Set after SIGHUP despite FIFO, /dev/zero link, 300 MB file: "
                + (f"after {seen:.1f} s" if seen is not None else "not within 8 s"))
        fake = (b64url({"alg": "EdDSA", "typ": "JWT", "kid": "nosuchkid"}) + "."
                + b64url({"iss": "wxauth", "aud": APPID, "sub": "x" * 28, "exp": int(time.time()) + 600})
                + ".AAAA")
        r = http("GET", "/auth/me", port, headers=bearer(fake), timeout=6)
        a.check(r.status == 401 and r.latency < 3,
                f"(a) a token naming an unknown kid -> 401 promptly: {r} in {r.latency * 1000:.0f} ms")
        # `wxauth keys` on the same folder: bounded in time and memory
        t0 = time.monotonic()
        keys = spawn([ctx.bin, "keys", "--dir", d], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                     cwd=tempdir("keys-cwd"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
        ks = Sampler(keys, ctx.kill_mib, interval=0.02)
        ks.start()
        try:
            out, _ = keys.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            keys.kill()
            out, _ = keys.communicate(timeout=5)
        took = time.monotonic() - t0
        ks.stop()
        kpeak = ks.peak_mib()
        text = out.decode("utf-8", "replace")
        a.check(keys.returncode == 0 and took < 5 and kpeak < RSS_LIMIT_MIB and "abuse2" in text,
                f"(a) `wxauth keys` on that folder: exit {keys.returncode} in {took:.1f} s, peak RSS {kpeak:.1f} MiB"
                + (f" (killed past {ctx.kill_mib} MiB)" if ks.killed_at_mib else "")
                + f", lists the new kid: {'abuse2' in text}",
                "\n".join("      | " + l for l in text.splitlines()[-6:]))
        a.note(f"`wxauth keys` {took:.1f} s, {kpeak:.0f} MiB")
        a.prober.wait_rounds(3, 10)
        a.end()
        if a.server.alive():
            took = a.server.stop(timeout=10)
            a.check(took is not None and took < 5,
                    f"(a) SIGTERM stops the server promptly: "
                    + (f"{took:.1f} s" if took is not None else "still running after 10 s (killed)"))
            a.note(f"SIGTERM {'%.1f s' % took if took is not None else '> 10 s'}")


# --------------------------------------------------------------------------
# 7-14. Many connections, each within the rules, at the server's defaults
# --------------------------------------------------------------------------

DEFAULTS = {  # the suite's own overrides, taken back: the server's defaults
    "WXAUTH_CLIENT_TIMEOUT": None,
    "WXAUTH_CLIENT_RATE": None,
    "WXAUTH_TRUSTED_PROXIES": None,
}
if os.environ.get("ABUSE_MAX_CONNECTIONS"):  # to measure another table size than the default
    DEFAULTS["WXAUTH_MAX_CONNECTIONS"] = os.environ["ABUSE_MAX_CONNECTIONS"]
ATTACKERS = 10_000  # attacking connections in 14, five times WXAUTH_MAX_CONNECTIONS' default
ATTACK_SRCS = [f"127.0.1.{n}" for n in range(1, 9)]  # spread the ephemeral ports


class Held:
    """Connections held open by an attack: opened, cut by the server, reopened."""

    def __init__(self):
        self.opened = 0
        self.cut = 0
        self.open_now = 0
        self.peak_open = 0
        self.errors = collections.Counter()
        self.first_bytes = collections.Counter()

    def up(self):
        self.opened += 1
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)

    def down(self, cut=True):
        self.open_now -= 1
        if cut:
            self.cut += 1

    def __str__(self):
        return (f"{self.opened} opened, {self.cut} cut by the server, at most {self.peak_open} open at once"
                + (f", errors {dict(self.errors.most_common(3))}" if self.errors else ""))


async def hold_one(i, port, deadline, held, send, reopen=True, rcvbuf=None, after_send=None):
    """One attacker slot: connect from one of ATTACK_SRCS, send, wait until the
    server closes (then reopen after a pause) or the deadline."""
    loop = asyncio.get_running_loop()
    src = ATTACK_SRCS[i % len(ATTACK_SRCS)]
    while time.monotonic() < deadline:
        try:
            s = await aconnect(src, port, timeout=max(0.1, min(5.0, deadline - time.monotonic())), rcvbuf=rcvbuf)
        except (OSError, asyncio.TimeoutError) as e:
            held.errors[type(e).__name__] += 1
            await asyncio.sleep(0.5)
            continue
        held.up()
        cut = False
        try:
            if send:
                await asyncio.wait_for(loop.sock_sendall(s, send), max(0.1, deadline - time.monotonic()))
            if after_send:
                cut = await after_send(s, deadline)
            else:
                while time.monotonic() < deadline:
                    data = await asyncio.wait_for(loop.sock_recv(s, 4096), max(0.1, deadline - time.monotonic()))
                    if not data:
                        cut = True
                        break
                    held.first_bytes[data[:12]] += 1
        except asyncio.TimeoutError:
            pass
        except OSError:
            cut = True
        finally:
            s.close()
            held.down(cut)
        if not reopen or not cut:
            return
        await asyncio.sleep(0.2)


def unfinished_head(size=16_000):
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
    return start + b"a" * (size - len(start))


def pipelined(path, n):
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * n


def ss_sockets(port):
    """`ss -tmn` of the server's established sockets to the attackers (ATTACK_SRCS):
    (send-q, tb) per socket. Only those: a socket the server has not taken
    from the backlog yet still has the kernel's initial send buffer (on
    loopback about 3.8 MB: twice ten segments of 64 KiB), capped when the
    server wraps it."""
    out = subprocess.run(["ss", "-tmnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=20).stdout
    rows, pending = [], None
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d+)\s+\S+\s+\S+", line)
        if m:
            peer = line.split()[-1]
            pending = int(m.group(2)) if peer.rsplit(":", 1)[0] in ATTACK_SRCS else None
        t = re.search(r"skmem:\(([^)]*)\)", line)
        if t and pending is not None:
            tb = re.search(r"tb(\d+)", t.group(1))
            rows.append((pending, int(tb.group(1)) if tb else 0))
            if rows[-1][1] > 64 * 1024:
                print(f"     ss: {peer} {t.group(0)}", flush=True)
            pending = None
    return rows


def slowest_split(r):
    """Where the slowest probe's time went: the TCP connect (the listen
    queue, SYN retransmits) or the answer."""
    if r is None or r.connect is None:
        return ""
    return f" (slowest: connect {r.connect * 1000:.0f} ms, answer {(r.latency - r.connect) * 1000:.0f} ms)"


def latency_check(a, lat, limit_ms=1000):
    """(c) at the server's defaults: every probe answered 200 within a second."""
    for path in ("/healthz", "/auth/me"):
        v = lat.lat[path]
        bad = sum(n for k, n in lat.bad.items() if k.startswith(path + " "))
        worst = max(v) * 1000 if v else float("nan")
        a.check(bool(v) and worst < limit_ms and bad == 0,
                f"(c) {path} from 127.0.0.1 throughout: p50 {pct(v, 50) * 1000:.1f} ms, p99 {pct(v, 99) * 1000:.1f} ms, "
                f"max {worst:.0f} ms over {len(v)}" + (f", {bad} not 200" if bad else "")
                + slowest_split(lat.slowest.get(path)),
                "      " + "; ".join(f"{k} x{n}" for k, n in lat.bad.most_common(3)))
        if path == "/healthz":
            a.note(f"/healthz max {worst:.0f} ms")


def run_held(a, seconds, groups):
    """Runs `groups` [(count, kwargs)] of hold_one slots for `seconds` with a
    latency probe; returns the Held of each group."""
    _, token = login(a.server.port, "lat")
    lat = LatencyProbe(a.server.port, token or "none")
    helds = [Held() for _ in groups]

    async def run():
        deadline = time.monotonic() + seconds
        tasks = []
        for (count, kwargs), held in zip(groups, helds):
            for i in range(count):
                tasks.append(hold_one(i, a.server.port, deadline, held, **kwargs))
        await asyncio.gather(*tasks)

    a.begin()
    lat.start()
    asyncio.run(run())
    lat.stop()
    a.end()
    latency_check(a, lat)
    return helds


def attack7(ctx, conns=10_000, seconds=20.0):
    """10,000 unfinished 16 KiB heads"""
    with Attack(ctx, "7", "10,000 connections, 16 KiB unfinished heads, reopened as cut", extra=DEFAULTS) as a:
        (held,) = run_held(a, seconds, [(conns, {"send": unfinished_head()})])
        print(f"     heads: {held}", flush=True)
        a.check(held.cut > 0, f"(a) the server sheds unfinished heads past its budget: {held.cut} cut")
        a.note(f"{held.opened} opened, {held.cut} cut")


def attack8(ctx, conns=10_000, seconds=15.0):
    """10,000 idle connections"""
    with Attack(ctx, "8", "10,000 idle connections", extra=DEFAULTS) as a:
        (held,) = run_held(a, seconds, [(conns, {"send": b""})])
        print(f"     idle: {held}", flush=True)
        a.note(f"{held.peak_open} open at once")


async def read_nothing(s, deadline):
    loop = asyncio.get_running_loop()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    return False


def attack9(ctx, conns=2_000, seconds=15.0):
    """2,000 pipeliners that never read"""
    with Attack(ctx, "9", "2,000 connections pipelining /openapi.json, never reading", extra=DEFAULTS) as a:
        send = pipelined("/openapi.json", 64)
        (held,) = run_held(a, seconds, [(conns, {"send": send, "rcvbuf": 4096, "after_send": read_nothing})])
        print(f"     pipeliners: {held}", flush=True)
        a.note(f"{held.peak_open} open at once")


def slow_reader(cut_at, started):
    async def read_slowly(s, deadline):
        loop = asyncio.get_running_loop()
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(loop.sock_recv(s, 64), max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return False
            except OSError:
                data = b""
            if not data:
                cut_at.append(time.monotonic() - started[0])
                return True
            await asyncio.sleep(1.0)
        return False
    return read_slowly


def attack10(ctx, conns=500, seconds=25.0):
    """500 slow readers"""
    with Attack(ctx, "10", "500 slow readers of /openapi.json (ss -tm)", extra=DEFAULTS) as a:
        port = a.server.port
        cut_at, started = [], [time.monotonic()]
        send = pipelined("/openapi.json", 16)
        snapshots, held_at = [], []

        def watch():
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(2.0)
                snap = ss_sockets(port)
                snapshots.append(snap)
                # server-side sockets still holding an answer for a slow reader
                held_at.append((time.monotonic() - started[0], sum(1 for q, _ in snap if q > 0)))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started[0] = time.monotonic()
        (held,) = run_held(a, seconds, [(conns, {"send": send, "rcvbuf": 4096, "reopen": False,
                                                 "after_send": slow_reader(cut_at, started)})])
        watcher.join(timeout=30)
        rows = [r for snap in snapshots for r in snap]
        max_tb = max((tb for _, tb in rows), default=0)
        max_q = max((q for q, _ in rows), default=0)
        total_q = max((sum(q for q, _ in snap) for snap in snapshots), default=0)
        print(f"     slow readers: {held}; ss -tm: send buffer (tb) at most {max_tb} bytes, send-q at most "
              f"{max_q} bytes per socket, {total_q / MIB:.1f} MiB over all sockets", flush=True)
        a.check(rows and max_tb <= 64 * 1024,
                f"(a) each socket's kernel send buffer is capped: tb at most {max_tb} bytes (ss -tm, {len(rows)} rows)")
        limit = 10 + 4  # WXAUTH_CLIENT_TIMEOUT's default, and some slack
        late = [(round(t), n) for t, n in held_at if t >= limit]
        print(f"     server sockets with unsent answers over time (s, count): "
              + ", ".join(f"{t:.0f}:{n}" for t, n in held_at), flush=True)
        a.check(late and all(n == 0 for _, n in late),
                f"(a) every slow reader's answer dropped within {limit} s whatever its pace (ss -tm): after it {late}")
        a.note(f"tb <= {max_tb // 1024} KiB")


def probe_raw(port, payload, pieces=1, timeout=15.0):
    """Sends `payload` in `pieces` (20 ms apart) and reads until close: the bytes answered."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        step = -(-len(payload) // pieces)
        for k in range(0, len(payload), step):
            try:
                s.sendall(payload[k:k + step])
            except OSError:
                break
            time.sleep(0.02)
        got = bytearray()
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                break
            if not data:
                break
            got += data
            if b"\r\n\r\n" in got and got.startswith(b"HTTP/1.1 100"):
                return bytes(got)
        return bytes(got)
    finally:
        s.close()


def attack11(ctx):
    """head cap and 100-continue probes"""
    with Attack(ctx, "11", "head-cap and 100-continue probes", extra=DEFAULTS) as a:
        port = a.server.port
        a.begin()
        for size, pieces, want in [(16 * 1024, 1, b"HTTP/1.1 200"), (16 * 1024 + 1, 1, b"HTTP/1.1 431"),
                                   (17_000, 1, b"HTTP/1.1 431"), (19_500, 1, b"HTTP/1.1 431"),
                                   (19_500, 9, b"HTTP/1.1 431"), (64_000, 4, b"HTTP/1.1 431")]:
            start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
            end = b"\r\nConnection: close\r\n\r\n"
            head = start + b"a" * (size - len(start) - len(end)) + end
            got = probe_raw(port, head, pieces)
            a.check(got.startswith(want), f"(a) a {size}-byte head in {pieces} piece(s): {got[:12]!r}, want {want!r}")
        for length, want in [(5000, b"HTTP/1.1 413"), (20, b"HTTP/1.1 100 Continue")]:
            req = (f"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Expect: 100-continue\r\nContent-Length: {length}\r\n\r\n").encode()
            got = probe_raw(port, req, timeout=5.0)
            a.check(got.startswith(want),
                    f"(a) Expect: 100-continue with a declared {length}-byte body: first answer {got[:25]!r}")
        # after a 413 that closes, nothing more on the connection
        nxt = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        req = (b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
               + b" " * 5000 + nxt * 2)
        got = probe_raw(port, req)
        a.check(got.startswith(b"HTTP/1.1 413") and got.count(b"HTTP/1.1 ") == 1,
                f"(a) after a 413 with connection: close, nothing more: {got.count(b'HTTP/1.1 ')} answer(s)")
        a.end()


async def xff_flood(port, deadline, count, tally, path="/auth/check", conns=16, batch=200, token=None,
                    body=None, start=0, method="GET"):
    """Requests from 127.0.0.1 (a trusted proxy by default) naming a new client
    address in X-Forwarded-For each time, pipelined in batches."""
    loop = asyncio.get_running_loop()
    per = count // conns

    async def one(c):
        n = start + c * per
        end = n + per
        s = None
        buf = bytearray()
        while n < end and time.monotonic() < deadline:
            try:
                if s is None:
                    s = await aconnect("127.0.0.1", port)
                reqs = []
                k = min(batch, end - n)
                for j in range(k):
                    ip = f"{10 + ((n + j) >> 24) % 200}.{((n + j) >> 16) & 255}.{((n + j) >> 8) & 255}.{(n + j) & 255}"
                    hdr = {"X-Forwarded-For": ip}
                    if token:
                        hdr["Authorization"] = f"Bearer {token}"
                    reqs.append(request_bytes(method, path, port, body=body, headers=hdr, close=False))
                await loop.sock_sendall(s, b"".join(reqs))
                got = 0
                while got < k:
                    r = await arecv_response(s, buf, min(deadline + 5, time.monotonic() + 10))
                    got += 1
                    tally.status[r[0]] += 1
                    tally.sent += 1
                    if r[1].get("connection", "").lower() == "close":
                        break  # the rest of the batch is not answered: open anew
                n += got
                if got < k:
                    s.close()
                    s, buf = None, bytearray()
            except (OSError, EOFError, TimeoutError, asyncio.TimeoutError) as e:
                tally.errors[type(e).__name__] += 1
                if s is not None:
                    s.close()
                s, buf = None, bytearray()
                await asyncio.sleep(0.05)
        if s is not None:
            s.close()

    await asyncio.gather(*(one(c) for c in range(conns)))


def attack12(ctx, addresses=1_500_000, seconds=60.0):
    """1.5M rotating X-Forwarded-For addresses"""
    with Attack(ctx, "12", "1.5M client addresses rotated through X-Forwarded-For", extra=DEFAULTS) as a:
        port = a.server.port
        _, token = login(port, "lat")
        lat = LatencyProbe(port, token or "none")
        tally = Tally()
        a.begin()
        lat.start()
        t0 = time.monotonic()
        asyncio.run(xff_flood(port, t0 + seconds, addresses, tally, token="x.y.z"))
        took = time.monotonic() - t0
        lat.stop()
        a.end()
        latency_check(a, lat)
        print(f"     {tally.sent} requests, each from a new address, in {took:.0f} s: {dict(tally.status)}"
              + (f", errors {dict(tally.errors)}" if tally.errors else ""), flush=True)
        a.check(tally.sent >= 100_000, f"(a) the flood reached the limiter: {tally.sent} distinct addresses")
        a.note(f"{tally.sent} addresses in {took:.0f} s")


def attack13(ctx, seconds=15.0):
    """address-rotating RS256 refresh flood"""
    with Attack(ctx, "13", "RS256 refreshes, a new X-Forwarded-For address each", extra=DEFAULTS, alg="rs256") as a:
        port = a.server.port
        _, token = login(port, "flood")
        if not a.check(token is not None, "setup: an RS256 token"):
            return
        lat = LatencyProbe(port, token)
        tally = Tally()
        a.begin()
        lat.start()
        t0 = time.monotonic()
        asyncio.run(xff_flood(port, t0 + seconds, 10_000_000, tally, path="/auth/refresh", method="POST",
                              body={}, conns=32, batch=1, token=token))
        span = time.monotonic() - t0
        lat.stop()
        a.end()
        latency_check(a, lat)
        ok = tally.status.get(200, 0)
        shed = tally.status.get(503, 0)
        print(f"     {tally.sent} refreshes in {span:.1f} s: {dict(tally.status)}"
              + (f", errors {dict(tally.errors)}" if tally.errors else ""), flush=True)
        bound = 1000 * (span + 1) + 20  # WXAUTH_SIGNATURE_RATE's default, its burst, the prober
        a.check(ok <= bound, f"(a) signatures within the process budget: {ok} signed ({ok / span:.0f}/s) <= {bound:.0f}")
        # This client on loopback may not reach the budget (1,000/s by
        # default) on a small machine; then there is no excess to shed.
        reached = ok / span >= 900
        a.check(shed > 0 or not reached,
                f"(a) the excess shed with 503 overloaded: {shed}"
                + ("" if reached else f" (the flood stayed under the budget: {ok / span:.0f}/s)"))
        a.note(f"{ok / span:.0f} signed/s, {shed} shed")


def attack14(ctx, seconds=25.0):
    """all of 7-13 at once"""
    total = ATTACKERS
    with Attack(ctx, "14", f"7-13 at once, {total:,} attacking connections", extra=DEFAULTS, alg="rs256") as a:
        port = a.server.port
        _, token = login(port, "all")
        lat = LatencyProbe(port, token or "none")
        tally_x, tally_r = Tally(), Tally()
        cut_at, started = [], [time.monotonic()]
        groups = [
            (4_000, {"send": unfinished_head()}),
            (3_400, {"send": b""}),
            (2_000, {"send": pipelined("/openapi.json", 64), "rcvbuf": 4096, "after_send": read_nothing}),
            (500, {"send": pipelined("/openapi.json", 16), "rcvbuf": 4096, "reopen": False,
                   "after_send": slow_reader(cut_at, started)}),
        ]
        helds = [Held() for _ in groups]

        async def run():
            deadline = time.monotonic() + seconds
            tasks = [hold_one(i, port, deadline, held, **kw)
                     for (count, kw), held in zip(groups, helds) for i in range(count)]
            tasks.append(xff_flood(port, deadline, 5_000_000, tally_x, token="x.y.z", conns=8, start=0))
            if token:
                tasks.append(xff_flood(port, deadline, 10_000_000, tally_r, path="/auth/refresh", method="POST",
                                       body={}, conns=16, batch=1, token=token, start=100_000_000))
            await asyncio.gather(*tasks)

        a.begin()
        lat.start()
        started[0] = time.monotonic()
        asyncio.run(run())
        lat.stop()
        a.end()
        latency_check(a, lat)
        for name, held in zip(("heads", "idle", "pipeliners", "slow readers"), helds):
            print(f"     {name}: {held}", flush=True)
        print(f"     X-Forwarded-For: {tally_x.sent} addresses; refreshes: {dict(tally_r.status)}", flush=True)
        a.note(f"{sum(h.peak_open for h in helds)} attacking connections at most")


# --------------------------------------------------------------------------


def main():
    global KEEP
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.environ.get("WXAUTH_BIN", "target/release/wxauth"))
    parser.add_argument("--measure", action="store_true", help="report, never fail (a 'before' run)")
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8,9,10,11,12,13,14", help="attacks to run, e.g. 1,4")
    parser.add_argument("--kill-mib", type=int, default=1536, help="kill a server past this RSS (machine guard)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (logs)")
    parser.add_argument("--fake-wechat", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_wechat:
        return fake_wechat_main()
    KEEP = args.keep
    if not os.access(args.bin, os.X_OK):
        print(f"no wxauth binary at {args.bin} (build it: cargo build --release --bin wxauth)", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # 10,000 attacking connections, and the server (which inherits it) as many
    want = min(hard, 24576) if hard != resource.RLIM_INFINITY else 24576
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sys.setswitchinterval(0.001)  # the prober's latency is not the attackers' GIL slice
    roomy_conntrack()

    ctx = Context(args)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    started = time.monotonic()
    print(f"wxauth abuse suite: {ctx.bin}{' (measure only)' if ctx.measure else ''}; "
          f"CLIENT_TIMEOUT={CLIENT_TIMEOUT} CLIENT_RATE={RATE} (burst {BURST}); RSS limit {RSS_LIMIT_MIB} MiB", flush=True)
    fake = spawn([sys.executable, os.path.abspath(__file__), "--fake-wechat"], as_limit=None,
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = fake.stdout.readline()
    if not line.strip().isdigit():
        print("the fake WeChat did not start", file=sys.stderr)
        return 2
    ctx.fake_port = int(line)
    if "5" in only:
        start_rsa8192(ctx)
    attacks = {"1": attack1, "2": attack2, "3": attack3, "4": attack4, "6": attack6, "7": attack7,
               "8": attack8, "9": attack9, "10": attack10, "11": attack11, "12": attack12, "13": attack13,
               "14": attack14, "5": attack5}
    for key, fn in attacks.items():  # 5 last: its RSA-8192 key is being made meanwhile
        if key in only:
            try:
                fn(ctx)
            except AttackAborted:
                pass
            except Exception as e:  # never lose the report to one attack's bug
                ctx.rows.setdefault(key, {"fail": 0, "peak": None, "note": ""})["title"] = fn.__doc__ or ""
                ctx.check(key, False, f"attack {key} ran ({type(e).__name__}: {e})", traceback.format_exc()[-2000:])

    print()
    print("| attack | peak RSS MiB | result |")
    print("|---|---|---|")
    for key in sorted(ctx.rows, key=int):
        row = ctx.rows[key]
        peak = "-" if row["peak"] is None else f"{row['peak']:.1f}"
        result = "pass" if row["fail"] == 0 else f"FAIL ({row['fail']} checks)"
        note = f": {row['note']}" if row["note"] else ""
        print(f"| {key}. {row.get('title', '')} | {peak} | {result}{note} |")
    print()
    print(f"suite took {time.monotonic() - started:.0f} s")
    print(f"{ctx.passed} passed, {ctx.failed} failed", flush=True)
    if ctx.measure:
        return 0
    return 1 if ctx.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
