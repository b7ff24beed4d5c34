#!/usr/bin/env python3
"""Side-by-side benchmark: usercom-mock vs WireMock, the forwarder, and the conformance gate.

Run through `bash bench/run.sh` (it installs wrk and WireMock and builds the release binaries);
this file only orchestrates and needs nothing beyond the Python standard library.

Every server runs on 127.0.0.1, started by this script, and is stopped at exit (only the
processes this script started). Every loop is bounded. Raw figures go to bench/out/results.json,
the Markdown table to stdout and bench/out/RESULTS.md (and bench/RESULTS.md with --save).
"""

import argparse
import atexit
import datetime
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
RELEASE = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release")
MOCK_BIN = os.path.join(RELEASE, "usercom-mock")
FWD_BIN = os.path.join(RELEASE, "usercom-forwarder")
CONF_BIN = os.path.join(RELEASE, "usercom-conformance")
FLOOR_BIN = os.path.join(RELEASE, "usercom-bench-floor")
LUA = os.path.join(BENCH, "lua", "shapes.lua")
WIREMOCK_ROOT = os.path.join(BENCH, "wiremock")
WIREMOCK_JAR = os.path.join(
    BENCH, "node_modules", "wiremock", "build", "wiremock-standalone-3.13.2.jar"
)
OUT = os.path.join(BENCH, "out")

TOKEN = "bench-key"
SEED_USERS = 1000
WRK_THREADS = 2
WRK_CONNS = 16

# ---------------------------------------------------------------------------------------------
# Processes: everything started here is tracked and stopped at exit.

_started = []


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    _started.append(p)
    return p


def stop(p, timeout=10):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    if p in _started:
        _started.remove(p)


def _cleanup():
    for p in list(_started):
        try:
            stop(p, timeout=5)
        except Exception as e:  # keep stopping the others
            print(f"bench: could not stop pid {p.pid}: {e}", file=sys.stderr)


atexit.register(_cleanup)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_split(pid):
    """(user, system) CPU seconds used so far by a process (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def cpu_s(pid):
    """User + system CPU seconds used so far by a process."""
    return sum(cpu_split(pid))


def rss_kb(pid):
    """VmRSS of a process, in kB (from /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


# ---------------------------------------------------------------------------------------------
# HTTP helpers (keep-alive, stdlib only).


class Client:
    def __init__(self, port, token=TOKEN):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None, auth=True):
        # The version header every User.com client sends (the strict simulator requires it).
        headers = {"Content-Type": "application/json", "Accept": "*/*; version=2"}
        if auth:
            headers["Authorization"] = f"Token {self.token}"
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None), r
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        self.conn.close()


def first_status(port, path):
    """One GET on a fresh connection; the status code, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(256)
                if not chunk:
                    return None
                data += chunk
            return int(data.split(b" ", 2)[1])
    except OSError:
        return None


def wait_status(port, path, want=200, limit_s=60.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if first_status(port, path) == want:
            return True
        time.sleep(0.01)
    return False


def startup_times(make_cmd, path, runs):
    """Spawn → first 200 on `path`, polled in a tight loop; milliseconds per run."""
    out = []
    for _ in range(runs):
        port = free_port()
        cmd = make_cmd(port)
        t0 = time.perf_counter()
        p = spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = False
        deadline = t0 + 60
        while time.perf_counter() < deadline:
            if first_status(port, path) == 200:
                ok = True
                break
            if p.poll() is not None:
                break
            time.sleep(0.0002)
        t1 = time.perf_counter()
        stop(p)
        if not ok:
            raise RuntimeError(f"{cmd[0]} never answered 200 on {path}")
        out.append((t1 - t0) * 1000)
    return out


# ---------------------------------------------------------------------------------------------
# wrk


def run_wrk(port, shape, seconds, users_file=None, pid=None):
    """One wrk run; with `pid`, also the server's CPU time per request (robust to a busy machine)."""
    env = dict(os.environ)
    env.update(
        BENCH_SHAPE=shape,
        BENCH_TOKEN=TOKEN,
        BENCH_THREADS=str(WRK_THREADS),
        BENCH_USERS=users_file or "",
    )
    cmd = [
        "wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNS}", f"-d{seconds}s", "--timeout", "5s",
        "-s", LUA, f"http://127.0.0.1:{port}",
    ]
    cpu0 = cpu_s(pid) if pid else None
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    cpu1 = cpu_s(pid) if pid else None
    line = next((l for l in r.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stdout}\n{r.stderr}")
    d = json.loads(line[len("BENCH_JSON "):])
    d["rps"] = d["requests"] / (d["duration_us"] / 1e6)
    d["errors"] = sum(d[k] for k in d if k.startswith("err_"))
    if pid:
        d["server_cpu_us_per_req"] = (cpu1 - cpu0) * 1e6 / max(d["requests"], 1)
    return d


SHAPES = [
    ("events", "(a) POST /users-by-id/{id}/events/ (data to coerce)"),
    ("site_views", "(b) POST /site-views/"),
    ("upsert", "(c) POST /users/update_or_create/ (100k distinct users)"),
]


def throughput(port, users_file, seconds, warmup, pid):
    res = {}
    for shape, _label in SHAPES:
        if warmup:
            run_wrk(port, shape, warmup, users_file)
        d = run_wrk(port, shape, seconds, users_file, pid)
        log(f"  {shape}: {d['rps']:.0f} req/s p50 {d['p50_us']/1000:.2f} ms p99 {d['p99_us']/1000:.2f} ms "
            f"server CPU {d['server_cpu_us_per_req']:.1f} µs/req errors {d['errors']}")
        res[shape] = d
    return res


def memory_run(pid, port, users_file, target_requests, est_rps, cap_s):
    """Drive events and site views (alternating) until `target_requests` or `cap_s` seconds.

    RSS is read before, after a first tenth of the requests (by then the bounded journal of
    usercom-mock is full) and at the end: the slope between the last two readings is the marginal
    cost of one more stored item, without the journal's fixed cost.
    """
    before = rss_kb(pid)
    total = errors = 0
    elapsed = 0.0
    mid = None
    goals = [max(target_requests // 10, 1), target_requests]
    for goal in goals:
        for _ in range(4):  # bounded: a few chunks per goal at most
            left = goal - total
            if left <= 0 or elapsed >= cap_s:
                break
            secs = max(1, min(int(left / max(est_rps, 1) * 1.02) + 1, int(cap_s - elapsed) + 1))
            d = run_wrk(port, "mix", secs, users_file)
            total += d["requests"]
            errors += d["errors"]
            elapsed += d["duration_us"] / 1e6
            est_rps = d["rps"]
        if mid is None:
            time.sleep(0.3)
            mid = (rss_kb(pid), total - errors)
    time.sleep(0.5)
    after = rss_kb(pid)
    stored = total - errors
    marginal = (after - mid[0]) * 1024 / (stored - mid[1]) if stored > mid[1] else None
    return {
        "rss_before_kb": before,
        "rss_mid_kb": mid[0],
        "stored_mid": mid[1],
        "rss_after_kb": after,
        "requests": total,
        "errors": errors,
        "stored": stored,
        "seconds": elapsed,
        "bytes_per_item": (after - before) * 1024 / max(stored, 1),
        "bytes_per_item_marginal": marginal,
    }


# ---------------------------------------------------------------------------------------------
# Simulator and WireMock


def mock_cmd(port, journal=None):
    cmd = [MOCK_BIN, "--listen", f"127.0.0.1:{port}", "--api-key", TOKEN]
    if journal is not None:
        cmd += ["--journal-capacity", str(journal)]
    return cmd


def start_mock(extra=()):
    port = free_port()
    env = dict(os.environ, RUST_LOG="warn")
    p = spawn(mock_cmd(port) + list(extra), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = p.stdout.readline().strip()
    if not line.startswith("usercom-mock listening on http://"):
        raise RuntimeError(f"usercom-mock did not start: {line!r}")
    return p, port


def start_floor():
    """The floor (bench/floor): the simulator's HTTP stack with none of its work."""
    p = spawn([FLOOR_BIN, "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    prefix = "floor listening on http://"
    if not line.startswith(prefix):
        raise RuntimeError(f"usercom-bench-floor did not start: {line!r}")
    return p, int(line[len(prefix):].rsplit(":", 1)[1])


def seed_mock(port, users_file, strict=False):
    """A defined integer event attribute, SEED_USERS users; writes `custom_id user_key` lines.
    The strict simulator defines no event attributes over the API (User.com documents user and
    company ones only), so there every event attribute stays undefined and is not stored."""
    c = Client(port)
    st, _, _ = c.request("POST", "/api/public/attributes/",
                         {"name": "quantity", "value_type": "integer", "content_type": "event"})
    assert st == (400 if strict else 201), st
    for i in range(SEED_USERS):
        st, _, _ = c.request("POST", "/api/public/users/update_or_create/",
                             {"custom_id": f"bench-u-{i}", "email": f"u{i}@example.com"})
        assert st in (200, 201), st
    pairs = []
    page = 1
    while len(pairs) < SEED_USERS and page <= SEED_USERS // 100 + 2:
        st, body, _ = c.request("GET", f"/api/public/users/?page={page}")
        assert st == 200, st
        pairs += [(u["custom_id"], u["user_key"]) for u in body["results"] if u.get("custom_id")]
        page += 1
    c.close()
    with open(users_file, "w") as f:
        for cid, key in pairs:
            f.write(f"{cid} {key}\n")


def fake_users(users_file):
    rnd = random.Random(7)
    with open(users_file, "w") as f:
        for i in range(SEED_USERS):
            key = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
            f.write(f"bench-u-{i} {key}\n")


def wiremock_cmd(port):
    return ["java", "-jar", WIREMOCK_JAR, "--port", str(port), "--bind-address", "127.0.0.1",
            "--disable-banner", "--root-dir", WIREMOCK_ROOT]


def bench_simulator(a, tmp):
    settle()
    r = {}
    log("usercom-mock: start-up")
    r["startup_ms"] = startup_times(lambda port: mock_cmd(port), "/__admin/apps", a.startup_runs)
    log(f"  start-up ms: {', '.join(f'{x:.1f}' for x in r['startup_ms'])}")
    users = os.path.join(tmp, "users.txt")
    p, port = start_mock()
    r["rss_idle_kb"] = rss_kb(p.pid)
    seed_mock(port, users)
    log(f"usercom-mock: throughput ({a.duration}s per shape, warm-up {a.warmup}s)")
    r["shapes"] = throughput(port, users, a.duration, a.warmup, p.pid)
    r["rss_after_throughput_kb"] = rss_kb(p.pid)
    stop(p)
    log(f"usercom-mock: memory over {a.memory_requests:,} requests (events + site views)")
    p, port = start_mock()
    seed_mock(port, users)
    est = min(r["shapes"]["events"]["rps"], r["shapes"]["site_views"]["rps"])
    r["memory"] = memory_run(p.pid, port, users, a.memory_requests, est, a.memory_cap)
    m = r["memory"]
    log(f"  RSS {m['rss_before_kb']} kB -> {m['rss_after_kb']} kB over {m['requests']} requests: {m['bytes_per_item']:.0f} B/item")
    stop(p)
    return r


FLOOR_SERVERS = [
    ("floor", "floor (bare axum)"),
    ("sim", "usercom-mock"),
    ("strict", "usercom-mock --strict"),
]


def bench_floor(a, tmp):
    """The simulator against its floor, alternated: each round runs every shape on the floor, the
    simulator and the strict simulator, one after the other, so the three see the same machine.
    Journals on (the simulator's default). Medians over rounds, and the median of the per-round
    ratios (paired: a slow spell hits a round's three runs alike)."""
    users = os.path.join(tmp, "floor-users.txt")
    servers = {}
    servers["floor"] = start_floor()
    servers["sim"] = start_mock()
    servers["strict"] = start_mock(["--strict"])
    seed_mock(servers["sim"][1], users)
    # Same custom ids in the strict simulator; its user keys differ, and site views need its own.
    strict_users = os.path.join(tmp, "floor-users-strict.txt")
    seed_mock(servers["strict"][1], strict_users, strict=True)
    users_of = {"floor": users, "sim": users, "strict": strict_users}
    runs = {k: {shape: [] for shape, _ in SHAPES} for k, _ in FLOOR_SERVERS}
    for rnd in range(a.floor_rounds):
        for shape, _label in SHAPES:
            for key, name in FLOOR_SERVERS:
                settle()
                p, port = servers[key]
                if rnd == 0 and a.warmup:
                    run_wrk(port, shape, a.warmup, users_of[key])
                d = run_wrk(port, shape, a.duration, users_of[key], p.pid)
                runs[key][shape].append(d)
                log(f"  round {rnd + 1} {shape} {name}: {d['rps']:.0f} req/s, server CPU "
                    f"{d['server_cpu_us_per_req']:.2f} µs/req, errors {d['errors']}")
    r = {"rounds": a.floor_rounds, "shapes": {}}
    for shape, _label in SHAPES:
        out = {}
        for key, _name in FLOOR_SERVERS:
            rs = runs[key][shape]
            out[key] = {
                "rps": statistics.median(d["rps"] for d in rs),
                "server_cpu_us_per_req": statistics.median(d["server_cpu_us_per_req"] for d in rs),
                "errors": sum(d["errors"] for d in rs),
                "runs": rs,
            }
        for key in ("sim", "strict"):
            paired = [s["rps"] / f["rps"] for s, f in zip(runs[key][shape], runs["floor"][shape])]
            out[key]["fraction_of_floor"] = statistics.median(paired)
            out[key]["fraction_of_floor_rounds"] = paired
        r["shapes"][shape] = out
        log(f"  {shape}: floor {out['floor']['rps']:.0f} req/s; simulator {out['sim']['fraction_of_floor']:.3f} "
            f"of it, strict {out['strict']['fraction_of_floor']:.3f}")
    for key, _name in FLOOR_SERVERS:
        stop(servers[key][0])
    return r


def bench_wiremock(a, tmp):
    if not os.path.exists(WIREMOCK_JAR):
        raise RuntimeError(f"WireMock jar missing: {WIREMOCK_JAR} (run bench/run.sh)")
    settle()
    r = {}
    log("WireMock: start-up")
    r["startup_ms"] = startup_times(wiremock_cmd, "/__admin/health", a.wiremock_startup_runs)
    log(f"  start-up ms: {', '.join(f'{x:.0f}' for x in r['startup_ms'])}")
    users = os.path.join(tmp, "fake-users.txt")
    fake_users(users)
    port = free_port()
    p = spawn(wiremock_cmd(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_status(port, "/__admin/health"):
        raise RuntimeError("WireMock did not start")
    r["rss_idle_kb"] = rss_kb(p.pid)
    if a.jvm_warmup:
        # The JIT keeps speeding WireMock up long after a few seconds: give it extra mixed traffic.
        log(f"WireMock: JIT warm-up, {a.jvm_warmup}s per shape")
        for shape, _label in SHAPES:
            run_wrk(port, shape, a.jvm_warmup, users)
    log(f"WireMock: throughput ({a.duration}s per shape, warm-up {a.warmup}s)")
    r["shapes"] = throughput(port, users, a.duration, a.warmup, p.pid)
    r["rss_after_throughput_kb"] = rss_kb(p.pid)
    stop(p)
    log(f"WireMock: memory over up to {a.memory_requests:,} requests (cap {a.wiremock_memory_cap}s)")
    port = free_port()
    p = spawn(wiremock_cmd(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_status(port, "/__admin/health"):
        raise RuntimeError("WireMock did not start")
    est = min(r["shapes"]["events"]["rps"], r["shapes"]["site_views"]["rps"])
    r["memory"] = memory_run(p.pid, port, users, a.memory_requests, est, a.wiremock_memory_cap)
    m = r["memory"]
    log(f"  RSS {m['rss_before_kb']} kB -> {m['rss_after_kb']} kB over {m['requests']} requests: {m['bytes_per_item']:.0f} B/item")
    stop(p)
    return r


# ---------------------------------------------------------------------------------------------
# Forwarder

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0.0.0 Safari/537.36")


def gen_events(n, prefix, users=10_000, companies=200, seed=42):
    """Mixed Segment messages: 25% identify, 40% track, 25% page, 10% group, over many users."""
    rnd = random.Random(seed)
    base = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)
    out = []
    for i in range(n):
        u = rnd.randrange(users)
        ts = (base + datetime.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        ctx = {
            "ip": f"203.0.113.{u % 250}",
            "userAgent": UA,
            "locale": "pl-PL",
            "page": {"url": f"https://shop.example.com/p/{i % 40}?utm_source=news",
                     "path": f"/p/{i % 40}", "title": "Product", "referrer": "https://www.google.com/"},
            "library": {"name": "analytics-python", "version": "2.3.3"},
        }
        m = {"userId": f"user-{u}", "messageId": f"{prefix}-{i}", "timestamp": ts, "context": ctx}
        k = rnd.random()
        if k < 0.25:
            m.update(type="identify", traits={
                "email": f"user{u}@example.com", "firstName": "Ada", "lastName": f"L{u}",
                "plan": rnd.choice(["free", "pro", "team"]), "seats": rnd.randrange(1, 50),
                "createdAt": "2024-01-15T10:00:00Z"})
        elif k < 0.65:
            m.update(type="track", event=rnd.choice(["Order Completed", "Product Viewed", "Cart Updated"]),
                     properties={"order_id": f"o-{i}", "revenue": round(rnd.random() * 200, 2),
                                 "currency": "PLN", "quantity": rnd.randrange(1, 9)})
        elif k < 0.90:
            m.update(type="page", name="Product",
                     properties={"url": ctx["page"]["url"], "path": ctx["page"]["path"], "title": "Product"})
        else:
            c = u % companies
            m.update(type="group", groupId=f"company-{c}",
                     traits={"name": f"Company {c}", "employees": 10 + c, "plan": "enterprise"})
        out.append(m)
    return out


def fwd_stats(port):
    c = Client(port)
    try:
        st, body, _ = c.request("GET", "/stats", auth=False)
        return body if st == 200 else None
    finally:
        c.close()


def batch_bodies(events):
    """The events as Segment `/v1/batch` bodies of 100 messages each."""
    return [json.dumps({"batch": events[i:i + 100]}, separators=(",", ":")).encode()
            for i in range(0, len(events), 100)]


def serve_cmd(fport, mport, spool_dir=None, fwd_bin=None):
    """`usercom-forwarder serve` on `fport` delivering to the simulator on `mport`;
    `--spool spool_dir` when given, else `--no-spool`."""
    return [fwd_bin or FWD_BIN, "serve", "--listen", f"127.0.0.1:{fport}",
            "--usercom-url", f"http://127.0.0.1:{mport}", "--api-key", TOKEN] + \
        (["--spool", spool_dir] if spool_dir else ["--no-spool"])


def wait_delivered(port, n, limit_s, poll_s=0.02):
    """Polls the forwarder's /stats until `n` messages were received and none is in flight, or
    `limit_s` passed; returns the last stats (None if /stats never answered)."""
    deadline = time.perf_counter() + limit_s
    stats = None
    while time.perf_counter() < deadline:
        stats = fwd_stats(port)
        if delivered(stats, n):
            break
        time.sleep(poll_s)
    return stats


def delivered(stats, n):
    return bool(stats and stats["received"] >= n and stats["in_flight"] == 0)


def post_batches(port, bodies, conns):
    """POST prepared batch bodies over `conns` keep-alive connections (threads); 429 → retry."""
    import threading

    lock = threading.Lock()
    idx = [0]
    counts = {"429": 0, "other": 0}

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if idx[0] >= len(bodies):
                    break
                body = bodies[idx[0]]
                idx[0] += 1
            for _attempt in range(2000):  # bounded retry on a full queue
                conn.request("POST", "/v1/batch", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    break
                with lock:
                    counts["429" if r.status == 429 else "other"] += 1
                if r.status != 429:
                    raise RuntimeError(f"ingress answered {r.status}")
                time.sleep(0.005)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def settle(limit_s=30.0):
    """Waits (bounded) until the machine is ~idle: after WireMock frees GBs, or a build elsewhere."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)

    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        i0, t0 = snap()
        time.sleep(1.0)
        i1, t1 = snap()
        idle = (i1 - i0) / max(t1 - t0, 1)
        if idle >= 0.9:
            return idle
    log(f"  machine still busy after {limit_s:.0f} s (idle {idle:.0%}); measuring anyway")
    return idle


def e2e_run(a, bodies, n, spool_dir=None, fwd_bin=None):
    """One end-to-end run on a fresh simulator and forwarder; CPU time of each per event.
    With `spool_dir`, `serve --spool spool_dir` (the default mode, fsync per group commit);
    without, `serve --no-spool`."""
    mock, mport = start_mock()
    fport = free_port()
    fwd = spawn(serve_cmd(fport, mport, spool_dir, fwd_bin), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=dict(os.environ, RUST_LOG="warn"))
    if not wait_status(fport, "/health"):
        raise RuntimeError("usercom-forwarder serve did not start")
    (fuser0, fsys0), mcpu0 = cpu_split(fwd.pid), cpu_s(mock.pid)
    t0 = time.perf_counter()
    counts = post_batches(fport, bodies, conns=4)
    t_accepted = time.perf_counter()
    stats = wait_delivered(fport, n, a.forwarder_cap - (t_accepted - t0))
    t_done = time.perf_counter()
    fuser, fsys = cpu_split(fwd.pid)
    e = {
        "events": n,
        "accepted_s": t_accepted - t0,
        "seconds": t_done - t0,
        "events_per_s": n / (t_done - t0),
        "stats": stats,
        "ingress_429": counts["429"],
        "forwarder_cpu_us_per_event": (fuser - fuser0 + fsys - fsys0) * 1e6 / n,
        "forwarder_user_us_per_event": (fuser - fuser0) * 1e6 / n,
        "forwarder_sys_us_per_event": (fsys - fsys0) * 1e6 / n,
        "mock_cpu_us_per_event": (cpu_s(mock.pid) - mcpu0) * 1e6 / n,
        "rss_forwarder_kb": rss_kb(fwd.pid),
        "rss_mock_kb": rss_kb(mock.pid),
        "complete": delivered(stats, n),
        "spool": bool(spool_dir),
    }
    stop(fwd)
    stop(mock)
    return e


def bench_e2e(a, bodies, n, tmp):
    """End to end with the spool (the default) and without (`--no-spool`), alternated run by
    run in one sitting, so the pair sees the same machine; medians of each."""
    runs, bare = [], []
    against = []
    modes = [True, False] + (["against"] if a.e2e_against else [])
    for run in range(a.forwarder_runs):
        for spool in modes:
            settle()
            label = {True: "spool on (fsync)", False: "--no-spool",
                     "against": f"--no-spool, {a.e2e_against}"}[spool]
            log(f"forwarder: end to end, {n:,} events in batches of 100 via `serve`, {label} "
                f"(run {run + 1} of {a.forwarder_runs})")
            spool_dir = os.path.join(tmp, f"spool-{run}") if spool is True else None
            fwd_bin = a.e2e_against if spool == "against" else None
            e = e2e_run(a, bodies, n, spool_dir, fwd_bin)
            {True: runs, False: bare, "against": against}[spool].append(e)
            sp = (e["stats"] or {}).get("spool") or {}
            log(f"  {e['events_per_s']:.0f} events/s ({e['seconds']:.2f} s; accepted in {e['accepted_s']:.2f} s; "
                f"CPU per event: forwarder {e['forwarder_cpu_us_per_event']:.1f} µs "
                f"({e['forwarder_user_us_per_event']:.1f} user + {e['forwarder_sys_us_per_event']:.1f} system), "
                f"simulator {e['mock_cpu_us_per_event']:.1f} µs; spool syncs {sp.get('syncs', '-')}), "
                f"{e['ingress_429']} × 429")
    median = lambda rs: sorted(rs, key=lambda e: e["events_per_s"])[len(rs) // 2]
    r = {"e2e_runs": runs, "e2e": median(runs), "e2e_nospool_runs": bare, "e2e_nospool": median(bare)}
    on, off = r["e2e"], r["e2e_nospool"]
    log(f"forwarder: spool on {on['events_per_s']:.0f} events/s, {on['forwarder_cpu_us_per_event']:.1f} µs CPU/event; "
        f"off {off['events_per_s']:.0f} events/s, {off['forwarder_cpu_us_per_event']:.1f} µs CPU/event; "
        f"on/off {on['events_per_s'] / off['events_per_s']:.1%}")
    if against:
        r["e2e_against_runs"] = against
        r["e2e_against"] = other = median(against)
        r["e2e_against_bin"] = a.e2e_against
        med = lambda rs, k: sorted(e[k] for e in rs)[len(rs) // 2]
        log(f"forwarder against {a.e2e_against} (both --no-spool, medians): "
            f"{off['events_per_s']:.0f} vs {other['events_per_s']:.0f} events/s; forwarder CPU/event "
            f"{med(bare, 'forwarder_cpu_us_per_event'):.1f} vs {med(against, 'forwarder_cpu_us_per_event'):.1f} µs; "
            f"forwarder/simulator CPU {med(bare, 'forwarder_cpu_us_per_event') / med(bare, 'mock_cpu_us_per_event'):.2f} "
            f"vs {med(against, 'forwarder_cpu_us_per_event') / med(against, 'mock_cpu_us_per_event'):.2f}")
    return r


def bench_forwarder(a, tmp):
    r = {}
    n = a.events
    ndjson = os.path.join(tmp, "events.ndjson")
    events = gen_events(n, "send")
    with open(ndjson, "w") as f:
        for m in events:
            f.write(json.dumps(m, separators=(",", ":")) + "\n")
    r["ndjson_bytes"] = os.path.getsize(ndjson)

    # End to end: Segment batches of 100 → ingress of `serve` → usercom-mock. Repeated (median
    # reported): on a shared machine one run can land in a slow spell.
    bodies = batch_bodies(gen_events(n, "e2e", seed=43))
    r.update(bench_e2e(a, bodies, n, tmp))
    if a.e2e_only:
        return r

    # send over the NDJSON file.
    log(f"forwarder: `send` over {n:,}-event NDJSON")
    mock, mport = start_mock()
    t0 = time.perf_counter()
    s = subprocess.run([FWD_BIN, "send", ndjson, "--usercom-url", f"http://127.0.0.1:{mport}",
                        "--api-key", TOKEN], capture_output=True, text=True, timeout=a.forwarder_cap,
                       env=dict(os.environ, RUST_LOG="warn"))
    dt = time.perf_counter() - t0
    r["send"] = {"events": n, "seconds": dt, "events_per_s": n / dt, "exit": s.returncode,
                 "summary": s.stdout.strip().splitlines()[-1] if s.stdout.strip() else s.stderr.strip()[-300:]}
    log(f"  {n / dt:.0f} events/s ({dt:.2f} s): {r['send']['summary']}")
    stop(mock)

    # plan: the mapping, with process start, NDJSON parsing and JSON output included.
    log("forwarder: `plan` (mapping only, no network)")
    one = os.path.join(tmp, "one.ndjson")
    with open(one, "w") as f:
        f.write(json.dumps(events[0]) + "\n")
    runs, empty = [], []
    for _ in range(3):
        with open(os.devnull, "w") as devnull:
            t0 = time.perf_counter()
            subprocess.run([FWD_BIN, "plan", ndjson], stdout=devnull, check=True, timeout=120)
            runs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([FWD_BIN, "plan", one], stdout=devnull, check=True, timeout=60)
            empty.append(time.perf_counter() - t0)
    out_bytes = 0
    with subprocess.Popen([FWD_BIN, "plan", ndjson], stdout=subprocess.PIPE) as pp:
        while True:
            chunk = pp.stdout.read(1 << 20)
            if not chunk:
                break
            out_bytes += len(chunk)
    t = statistics.median(runs)
    r["plan"] = {"events": n, "seconds": t, "events_per_s": n / t,
                 "one_event_s": statistics.median(empty), "output_bytes": out_bytes}
    log(f"  {n / t:.0f} events/s ({t:.3f} s; one-event run {r['plan']['one_event_s']*1000:.1f} ms; {out_bytes/n:.0f} B of JSON out per event)")
    return r


def bench_mapping():
    """The mapping alone, in process: `cargo bench --bench mapping` (built by run.sh)."""
    log("forwarder: mapping in process (`cargo bench --bench mapping`)")
    c = subprocess.run(["cargo", "bench", "--bench", "mapping"], cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    line = next((l for l in c.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if c.returncode != 0 or line is None:
        raise RuntimeError(f"cargo bench --bench mapping failed ({c.returncode}): {c.stderr[-500:]}")
    mixes = {m["mix"]: m for m in json.loads(line[len("BENCH_JSON "):])}
    for m in mixes.values():
        log(f"  {m['mix']}: parse + map {m['decide_per_s']:.0f} events/s, "
            f"{m['allocations_per_event']:.1f} allocations / {m['bytes_allocated_per_event']:.0f} B per event")
    return mixes


# ---------------------------------------------------------------------------------------------
# Conformance gate and test suite


def bench_gate(a):
    r = {}
    log("conformance: usercom-conformance run")
    t0 = time.perf_counter()
    c = subprocess.run([CONF_BIN, "run"], capture_output=True, text=True, timeout=300)
    r["conformance"] = {"seconds": time.perf_counter() - t0, "exit": c.returncode,
                        "tail": c.stdout.strip().splitlines()[-1:] if c.stdout.strip() else []}
    log(f"  {r['conformance']['seconds']:.2f} s, exit {c.returncode}")
    if a.skip_tests:
        return r
    log("tests: cargo test --workspace --release --no-run (build, not timed)")
    b = subprocess.run(["cargo", "test", "--workspace", "--release", "--no-run"], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    if b.returncode != 0:
        r["tests"] = {"error": "build failed: " + b.stderr.strip()[-500:]}
        log("  build failed (others may be editing the tree); skipping the timed run")
        return r
    log("tests: cargo test --workspace --release (timed)")
    t0 = time.perf_counter()
    t = subprocess.run(["cargo", "test", "--workspace", "--release"], cwd=ROOT,
                       capture_output=True, text=True, timeout=1800)
    dt = time.perf_counter() - t0
    passed = failed = 0
    for line in t.stdout.splitlines():
        if line.startswith("test result:"):
            parts = line.replace(";", "").split()
            passed += int(parts[parts.index("passed") - 1])
            failed += int(parts[parts.index("failed") - 1])
    with open(os.path.join(OUT, "cargo-test.log"), "w") as f:
        f.write(t.stdout + "\n" + t.stderr)
    r["tests"] = {"seconds": dt, "exit": t.returncode, "passed": passed, "failed": failed}
    log(f"  {dt:.1f} s, {passed} passed, {failed} failed, exit {t.returncode}")
    return r


# ---------------------------------------------------------------------------------------------
# Report


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    def first_lines(argv, stream):
        # A tool that is not installed (the end-to-end pair needs neither java nor wrk) is
        # reported as absent instead of stopping the run.
        try:
            out = subprocess.run(argv, capture_output=True, text=True)
        except FileNotFoundError:
            return []
        return (out.stderr if stream == "stderr" else out.stdout).splitlines()
    java = first_lines(["java", "-version"], "stderr")
    wrk = first_lines(["wrk", "-v"], "stdout")
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {
        "load_at_start": load,
        "nproc": os.cpu_count(),
        "cpu": model,
        "mem": mem,
        "kernel": platform.release(),
        "java": java[0] if java else "?",
        "wrk": wrk[0].split(" Copyright")[0] if wrk else "?",
    }


def fmt_int(x):
    return f"{x:,.0f}"


def mb(kb):
    return f"{kb / 1024:.1f} MB"


def met(ok):
    return "met" if ok else "**not met**"


def render(res, a):
    m = res["machine"]
    lines = [
        f"Run {res['date']} on {m['nproc']} cores ({m['cpu']}), {m['mem']} RAM, Linux {m['kernel']}; "
        f"{m['java']}; {m['wrk']}.",
        "",
        f"Load average at start {m['load_at_start']}, at end {res.get('load_at_end', '?')} (other work on the "
        "machine shows up here: throughput figures are then pessimistic; server CPU µs per request is the "
        "figure least affected).",
        "",
        f"**Load generator on the same machine**: wrk ({WRK_THREADS} threads, {WRK_CONNS} connections, "
        f"{a.duration} s per shape after a {a.warmup} s warm-up) shares the {m['nproc']} cores with the "
        "server under test. Journals on (usercom-mock: default, last 10,000 requests; WireMock: "
        "default, unbounded).",
        "",
    ]

    def row(*cells):
        lines.append("| " + " | ".join(cells) + " |")

    fl = res.get("floor")
    if fl:
        lines += [
            f"**The simulator against its floor** (bench/floor: the same axum, tokio and serde_json on the "
            f"same one-thread runtime, parsing the body and answering a small JSON object, nothing else). "
            f"Alternated shape by shape over {fl['rounds']} rounds; medians; the fraction is the median of "
            "the per-round ratios. Journals on.",
            "",
            "| Shape | floor req/s (CPU/req) | usercom-mock req/s (CPU/req) | fraction of floor | "
            "usercom-mock --strict req/s (CPU/req) | fraction of floor | Target | Status |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for shape, label in SHAPES:
            o = fl["shapes"][shape]

            def cell(k):
                x = o[k]
                err = f", {x['errors']} errors" if x["errors"] else ""
                return f"{fmt_int(x['rps'])} ({x['server_cpu_us_per_req']:.2f} µs{err})"

            ok = o["sim"]["fraction_of_floor"] >= 0.9 and o["strict"]["fraction_of_floor"] >= 0.9
            row(label, cell("floor"), cell("sim"), f"{o['sim']['fraction_of_floor']:.3f}", cell("strict"),
                f"{o['strict']['fraction_of_floor']:.3f}", "≥ 0.90 of the floor", met(ok))
        lines.append("")

    if any(res.get(k) for k in ("sim", "wiremock", "forwarder", "mapping", "gate")):
        lines += [
            "| Measure | usercom-mock | WireMock 3.13.2 | ours / WireMock | Target | Status |",
            "|---|---|---|---|---|---|",
        ]

    sim, wm = res.get("sim"), res.get("wiremock")
    if sim:
        for shape, label in SHAPES:
            s = sim["shapes"][shape]
            w = wm["shapes"][shape] if wm else None
            ours = fmt_int(s["rps"]) + (f" ({s['errors']} errors)" if s["errors"] else "")
            theirs = (fmt_int(w["rps"]) + (f" ({w['errors']} errors)" if w["errors"] else "")) if w else "n/a"
            ratio = s["rps"] / w["rps"] if w else None
            if shape == "upsert":
                target, status = "–", "–"
            else:
                target = "≥ 40,000 req/s and ≥ 3× WireMock"
                status = met(s["rps"] >= 40_000 and (ratio is None or ratio >= 3))
            row(f"{label}: req/s", ours, theirs, f"{ratio:.1f}×" if ratio else "n/a", target, status)
            lat = f"{s['p50_us'] / 1000:.2f} / {s['p99_us'] / 1000:.2f} ms"
            wlat = f"{w['p50_us'] / 1000:.2f} / {w['p99_us'] / 1000:.2f} ms" if w else "n/a"
            lratio = f"{s['p99_us'] / max(w['p99_us'], 1):.3f}× (p99)" if w else "n/a"
            row(f"{label}: p50 / p99 latency", lat, wlat, lratio, "–", "–")
            cpu = s["server_cpu_us_per_req"]
            wcpu = w["server_cpu_us_per_req"] if w else None
            row(f"{label}: server CPU time per request", f"{cpu:.1f} µs", f"{wcpu:.1f} µs" if w else "n/a",
                f"{cpu / wcpu:.3f}×" if w else "n/a", "–", "–")

        su = statistics.median(sim["startup_ms"])
        wu = statistics.median(wm["startup_ms"]) if wm else None
        runs = f"{len(sim['startup_ms'])}" + (f" / {len(wm['startup_ms'])}" if wm else "")
        row(f"Start-up, spawn → first 200 (median of {runs})", f"{su:.1f} ms",
            f"{wu:.0f} ms" if wu else "n/a", f"{su / wu:.3f}×" if wu else "n/a", "< 50 ms", met(su < 50))

        row("RSS idle (just started)", mb(sim["rss_idle_kb"]), mb(wm["rss_idle_kb"]) if wm else "n/a",
            f"{sim['rss_idle_kb'] / wm['rss_idle_kb']:.3f}×" if wm else "n/a", "–", "–")
        sm = sim["memory"]
        wmm = wm["memory"] if wm else None
        limit_kb = 64 * 1024 + 200 * sm["stored"] / 1024
        ours = f"{mb(sm['rss_before_kb'])} → {mb(sm['rss_after_kb'])} (N = {fmt_int(sm['requests'])})"
        theirs = (f"{mb(wmm['rss_before_kb'])} → {mb(wmm['rss_after_kb'])} (N = {fmt_int(wmm['requests'])})"
                  if wmm else "n/a")
        ratio = f"{sm['rss_after_kb'] / wmm['rss_after_kb']:.3f}× (after)" if wmm else "n/a"
        row("RSS before → after N requests (events + site views, alternating)", ours, theirs, ratio,
            f"≤ 64 MB + 200 B × stored = {mb(limit_kb)}", met(sm["rss_after_kb"] <= limit_kb))
        row("Bytes per stored item: (after − before) ÷ stored", f"{sm['bytes_per_item']:.0f} B",
            f"{wmm['bytes_per_item']:.0f} B" if wmm else "n/a",
            f"{sm['bytes_per_item'] / max(wmm['bytes_per_item'], 1):.3f}×" if wmm else "n/a",
            "(≤ 200 B + 64 MB fixed: row above)", "–")

        def marg(d):
            return f"{d['bytes_per_item_marginal']:.0f} B" if d and d.get("bytes_per_item_marginal") else "n/a"

        row(f"Bytes per stored item, marginal (RSS slope after the first {fmt_int(sm['stored_mid'])} items)",
            marg(sm), marg(wmm), "–", "≤ 200 B",
            met(sm["bytes_per_item_marginal"] is not None and sm["bytes_per_item_marginal"] <= 200))

    fw = res.get("forwarder")
    if fw:
        e = fw["e2e"]
        st = e["stats"] or {}
        note = "" if e["complete"] else " (INCOMPLETE: time cap reached)"
        all_runs = fw.get("e2e_runs", [e])
        spread = ", ".join(fmt_int(x["events_per_s"]) for x in all_runs)
        row(f"Forwarder end to end (`serve`, Segment batches of 100 → usercom-mock; median of {len(all_runs)} runs)",
            f"{fmt_int(e['events_per_s'])} events/s{note} ({fmt_int(e['events'])} events in {e['seconds']:.2f} s; "
            f"delivered {st.get('delivered', '?')}, skipped {st.get('skipped', '?')}, "
            f"dead-lettered {st.get('dead_lettered', '?')}; {e['ingress_429']} × 429; runs: {spread} events/s; "
            f"CPU per event: forwarder {e.get('forwarder_cpu_us_per_event', 0):.1f} µs, "
            f"simulator {e.get('mock_cpu_us_per_event', 0):.1f} µs)",
            "–", "–", "≥ 15,000 events/s", met(e["complete"] and e["events_per_s"] >= 15_000))
        off = fw.get("e2e_nospool")
        if off:
            bare_runs = ", ".join(fmt_int(x["events_per_s"]) for x in fw.get("e2e_nospool_runs", [off]))
            ratio = e["events_per_s"] / off["events_per_s"]
            row(f"Forwarder end to end, `serve --no-spool` (same runs, alternated with the spool; median of {len(fw.get('e2e_nospool_runs', [off]))})",
                f"{fmt_int(off['events_per_s'])} events/s (runs: {bare_runs} events/s; CPU per event: forwarder "
                f"{off.get('forwarder_cpu_us_per_event', 0):.1f} µs, simulator {off.get('mock_cpu_us_per_event', 0):.1f} µs)",
                "–", "–", "–", "–")
            row("Spool cost: end-to-end events/s with the spool ÷ without",
                f"{ratio:.1%}", "–", "–", "≥ 85%", met(ratio >= 0.85))
        s = fw["send"]
        row(f"Forwarder `send` over a {fmt_int(s['events'])}-event NDJSON file",
            f"{fmt_int(s['events_per_s'])} events/s ({s['seconds']:.2f} s; `{s['summary']}`)", "–", "–", "–", "–")
        p = fw["plan"]
        row("Mapping: `plan` over the same file (includes process start, NDJSON parse, JSON output)",
            f"{fmt_int(p['events_per_s'])} events/s ({p['seconds']:.3f} s; one-event run "
            f"{p['one_event_s'] * 1000:.1f} ms; {p['output_bytes'] / p['events']:.0f} B JSON out per event)",
            "–", "–", "–", "–")
    mp = res.get("mapping")
    if mp:
        f = mp["fixtures"]
        worst = min(mp.values(), key=lambda m: m["decide_per_s"])
        row("Mapping in process (`cargo bench --bench mapping`: Segment parse + mapping of the "
            "fixtures' messages, ~200,000 per pass, best of 5)",
            f"{fmt_int(f['decide_per_s'])} events/s; {f['allocations_per_event']:.1f} allocations, "
            f"{f['bytes_allocated_per_event']:,.0f} B allocated per event (worst mix, "
            f"'{worst['mix']}': {fmt_int(worst['decide_per_s'])} events/s)",
            "–", "–", "≥ 500,000 events/s", met(f["decide_per_s"] >= 500_000))

    g = res.get("gate")
    if g:
        c = g["conformance"]
        tail = f"; {c['tail'][0]}" if c["tail"] else ""
        row("`usercom-conformance run` wall time", f"{c['seconds']:.2f} s (exit {c['exit']}{tail})", "–", "–",
            "< 10 s", met(c["seconds"] < 10 and c["exit"] == 0))
        t = g.get("tests")
        if t and "error" not in t:
            row("`cargo test --workspace --release` wall time (already built)",
                f"{t['seconds']:.1f} s ({t['passed']} passed, {t['failed']} failed)", "–", "–", "–", "–")
        elif t:
            row("`cargo test --workspace --release`", f"not measured: {t['error'][:120]}", "–", "–", "–", "–")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description="usercom-mock vs WireMock, forwarder and gate benchmark")
    ap.add_argument("--duration", type=int, default=10, help="seconds per throughput run (default 10)")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up seconds before each run (default 5; WireMock's JIT needs it)")
    ap.add_argument("--jvm-warmup", type=int, default=0,
                    help="extra warm-up seconds per shape for WireMock only (default 0)")
    ap.add_argument("--memory-requests", type=int, default=1_000_000)
    ap.add_argument("--memory-cap", type=int, default=120, help="seconds cap for usercom-mock's memory run")
    ap.add_argument("--wiremock-memory-cap", type=int, default=120, help="seconds cap for WireMock's memory run")
    ap.add_argument("--startup-runs", type=int, default=9)
    ap.add_argument("--wiremock-startup-runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=100_000, help="forwarder events (default 100,000)")
    ap.add_argument("--forwarder-runs", type=int, default=3,
                    help="end-to-end runs; the median is reported (default 3)")
    ap.add_argument("--forwarder-cap", type=int, default=180, help="seconds cap per forwarder phase")
    ap.add_argument("--skip-wiremock", action="store_true")
    ap.add_argument("--floor-rounds", type=int, default=3,
                    help="rounds of the floor / simulator / strict simulator alternation (default 3)")
    ap.add_argument("--skip-floor", action="store_true", help="do not measure the simulator against its floor")
    ap.add_argument("--floor-only", action="store_true",
                    help="only the simulator against its floor (then print the table)")
    ap.add_argument("--e2e-only", action="store_true",
                    help="only the forwarder's end-to-end pair (spool on/off); prints its figures as JSON")
    ap.add_argument("--e2e-against", metavar="BIN",
                    help="with --e2e-only: also run another usercom-forwarder binary (--no-spool) in "
                         "each round, alternated with this one, and print the two side by side")
    ap.add_argument("--skip-forwarder", action="store_true")
    ap.add_argument("--skip-mapping", action="store_true", help="do not run cargo bench --bench mapping")
    ap.add_argument("--skip-gate", action="store_true")
    ap.add_argument("--skip-tests", action="store_true", help="do not time cargo test")
    ap.add_argument("--save", action="store_true", help="also write bench/RESULTS.md")
    ap.add_argument("--render-only", action="store_true",
                    help="measure nothing: print the table again from bench/out/results.json")
    a = ap.parse_args()
    if a.render_only:
        with open(os.path.join(OUT, "results.json")) as f:
            res = json.load(f)
        saved = argparse.Namespace(**{**vars(a), **res["args"], "save": a.save})
        publish(res, saved)
        return

    for b in (MOCK_BIN, FLOOR_BIN) if a.floor_only else (MOCK_BIN, FWD_BIN, CONF_BIN, FLOOR_BIN):
        if not os.path.exists(b):
            sys.exit(f"bench: {b} missing: build with `cargo build --release --workspace`")
    if not a.e2e_only and not shutil.which("wrk"):
        sys.exit("bench: wrk missing (bench/run.sh installs it with apt-get)")
    os.makedirs(OUT, exist_ok=True)
    started = time.perf_counter()
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine(), "args": vars(a)}
    if a.e2e_only:
        with tempfile.TemporaryDirectory(prefix="usercom-bench-") as tmp:
            fw = bench_forwarder(a, tmp)
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, "e2e.json"), "w") as f:
            json.dump({**res, "forwarder": fw}, f, indent=2)
        keys = ("events_per_s", "seconds", "forwarder_cpu_us_per_event", "mock_cpu_us_per_event", "ingress_429")
        print(json.dumps({k: [{f: round(x[f], 2) if isinstance(x[f], float) else x[f] for f in keys}
                              for x in fw[k]] for k in ("e2e_runs", "e2e_nospool_runs")}, indent=1))
        return
    if a.floor_only:
        a.skip_wiremock = a.skip_forwarder = a.skip_mapping = a.skip_gate = True
    with tempfile.TemporaryDirectory(prefix="usercom-bench-") as tmp:
        if not a.skip_floor:
            log(f"floor: usercom-bench-floor vs usercom-mock (default and --strict), {a.floor_rounds} rounds")
            res["floor"] = bench_floor(a, tmp)
        if not a.floor_only:
            res["sim"] = bench_simulator(a, tmp)
        if not a.skip_wiremock:
            res["wiremock"] = bench_wiremock(a, tmp)
        if not a.skip_forwarder:
            res["forwarder"] = bench_forwarder(a, tmp)
        if not a.skip_mapping:
            res["mapping"] = bench_mapping()
        if not a.skip_gate:
            res["gate"] = bench_gate(a)
    res["total_s"] = time.perf_counter() - started
    with open("/proc/loadavg") as f:
        res["load_at_end"] = " ".join(f.read().split()[:3])
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
    publish(res, a)
    log(f"done in {res['total_s']:.0f} s")


def publish(res, a):
    """The Markdown table: stdout, bench/out/RESULTS.md and, with --save, bench/RESULTS.md."""
    table = render(res, a)
    md = f"# Benchmark results\n\n{table}\nTotal benchmark time: {res['total_s']:.0f} s. Raw figures: `bench/out/results.json`.\n"
    with open(os.path.join(OUT, "RESULTS.md"), "w") as f:
        f.write(md)
    if a.save:
        with open(os.path.join(BENCH, "RESULTS.md"), "w") as f:
            f.write(md)
    print(table)


if __name__ == "__main__":
    main()
