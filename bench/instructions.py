#!/usr/bin/env python3
"""Instructions per request: usercom-mock (default and --strict) against its floor, under callgrind.

    python3 bench/instructions.py [SHAPE ...]     # shapes: events site_views upsert (default: all)
    python3 bench/instructions.py forwarder       # end to end: the forwarder against the simulator
                                                  # (CG_SPOOL=1: `serve --spool` instead of --no-spool)

wrk's figures move with whatever else the machine does; instruction counts do not. Each server
runs under `valgrind --tool=callgrind`; after seeding, its counters are zeroed, wrk drives one
shape for CG_SECONDS (default 10) over 4 connections, the counters are dumped, and the user-space
instructions are divided by the requests served. The kernel's share (loopback TCP, epoll) is not
counted, so the ratio here is larger than the ratio of CPU time. Dumps stay in bench/out/callgrind/
for `callgrind_annotate --inclusive=yes FILE`. Needs valgrind, wrk and the release binaries.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SECONDS = int(os.environ.get("CG_SECONDS", "10"))
DUMPS = os.path.join(bench.OUT, "callgrind")


def total_instructions(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"^(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"no instruction total in {path}")


def measure(kind, shape, strict=False):
    """One server under callgrind, one shape: (instructions per request, requests, dump file)."""
    label = f"{kind}{'-strict' if strict else ''}-{shape}"
    out = os.path.join(DUMPS, f"{label}.out")
    for f in os.listdir(DUMPS):
        if f.startswith(f"{label}.out"):
            os.remove(os.path.join(DUMPS, f))
    port = bench.free_port()
    cmd = [bench.FLOOR_BIN, f"127.0.0.1:{port}"] if kind == "floor" else bench.mock_cmd(port)
    if strict:
        cmd.append("--strict")
    p = bench.spawn(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    env=dict(os.environ, RUST_LOG="warn"))
    try:
        if not bench.wait_status(port, "/__admin/apps", limit_s=120):
            raise RuntimeError(f"{label}: the server did not start under valgrind")
        users = os.path.join(DUMPS, f"{label}.users")
        if kind == "floor":
            bench.fake_users(users)
        else:
            bench.seed_mock(port, users, strict=strict)
        subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
        env = dict(os.environ, BENCH_SHAPE=shape, BENCH_TOKEN=bench.TOKEN, BENCH_THREADS="1",
                   BENCH_USERS=users)
        r = subprocess.run(["wrk", "-t1", "-c4", f"-d{SECONDS}s", "--timeout", "10s", "-s", bench.LUA,
                            f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                           timeout=SECONDS + 120)
        line = next((l for l in r.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"{label}: wrk failed: {r.stdout}{r.stderr}")
        d = json.loads(line[len("BENCH_JSON "):])
        subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
        time.sleep(1)
    finally:
        bench.stop(p, timeout=60)
    dump = f"{out}.1"  # the first dump: after the counters were zeroed
    if d["requests"] == 0 or not os.path.exists(dump):
        raise RuntimeError(f"{label}: no requests served or no dump")
    errors = sum(v for k, v in d.items() if k.startswith("err_"))
    return total_instructions(dump) / d["requests"], d["requests"], errors, dump


def forwarder():
    """End to end, both processes under callgrind: `serve --no-spool` receives the benchmark's
    batches (CG_EVENTS, default 5,000, batches of 100) and delivers them to usercom-mock.
    Prints user-space instructions per event for each side: the client side of the delivery
    (plus the ingress and the mapping) against the server side of the same requests."""
    n = int(os.environ.get("CG_EVENTS", "5000"))
    bodies = bench.batch_bodies(bench.gen_events(n, "cg", seed=43))
    spool = os.environ.get("CG_SPOOL") == "1"
    spool_dir = tempfile.mkdtemp(prefix="usercom-cg-spool-") if spool else None
    fwd_out = os.path.join(DUMPS, f"forwarder-e2e{'-spool' if spool else ''}.out")
    mock_out = os.path.join(DUMPS, "mock-e2e.out")
    for f in os.listdir(DUMPS):
        if f.startswith((os.path.basename(fwd_out), "mock-e2e.out")):
            os.remove(os.path.join(DUMPS, f))
    env = dict(os.environ, RUST_LOG="warn")
    mport, fport = bench.free_port(), bench.free_port()
    mock = bench.spawn(["valgrind", "--tool=callgrind", f"--callgrind-out-file={mock_out}"]
                       + bench.mock_cmd(mport), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env)
    fwd = None
    try:
        if not bench.wait_status(mport, "/__admin/apps", limit_s=120):
            raise RuntimeError("usercom-mock did not start under valgrind")
        fwd = bench.spawn(["valgrind", "--tool=callgrind", f"--callgrind-out-file={fwd_out}"]
                          + bench.serve_cmd(fport, mport, spool_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if not bench.wait_status(fport, "/health", limit_s=120):
            raise RuntimeError("usercom-forwarder did not start under valgrind")
        for p in (mock, fwd):
            subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
        bench.post_batches(fport, bodies, conns=4)
        s = bench.wait_delivered(fport, n, limit_s=1800, poll_s=0.2)
        if not bench.delivered(s, n):
            raise RuntimeError(f"not delivered after 30 min: {s}")
        for p in (mock, fwd):
            subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
        time.sleep(1)
    finally:
        if fwd is not None:
            bench.stop(fwd, timeout=60)
        bench.stop(mock, timeout=60)
        if spool_dir:
            shutil.rmtree(spool_dir, ignore_errors=True)
    f_ins = total_instructions(f"{fwd_out}.1")
    m_ins = total_instructions(f"{mock_out}.1")
    bench.log(f"forwarder: {f_ins / n:,.0f} instructions/event; usercom-mock: {m_ins / n:,.0f} "
              f"instructions/event; ratio {f_ins / m_ins:.2f} ({n:,} events; stats {s}; "
              f"dumps {fwd_out}.1, {mock_out}.1)")
    print(json.dumps({"events": n, "spool": spool, "forwarder_per_event": f_ins / n, "mock_per_event": m_ins / n,
                      "ratio": f_ins / m_ins, "stats": s}))


def main():
    if sys.argv[1:] == ["forwarder"]:
        os.makedirs(DUMPS, exist_ok=True)
        return forwarder()
    if not shutil.which("valgrind") or not shutil.which("wrk"):
        sys.exit("instructions: needs valgrind and wrk (apt-get install valgrind wrk)")
    for b in (bench.MOCK_BIN, bench.FLOOR_BIN):
        if not os.path.exists(b):
            sys.exit(f"instructions: {b} missing: cargo build --release --workspace")
    shapes = sys.argv[1:] or [s for s, _ in bench.SHAPES]
    os.makedirs(DUMPS, exist_ok=True)
    rows = []
    for shape in shapes:
        floor, n, e, _ = measure("floor", shape)
        bench.log(f"{shape}: floor {floor:,.0f} instructions/request ({n} requests, {e} errors)")
        row = {"shape": shape, "floor": floor}
        for strict in (False, True):
            ins, n, e, dump = measure("sim", shape, strict)
            key = "strict" if strict else "sim"
            row[key] = ins
            bench.log(f"{shape}: usercom-mock{' --strict' if strict else ''} {ins:,.0f} instructions/request "
                      f"({ins / floor:.2f}× the floor; {n} requests, {e} errors; {dump})")
        rows.append(row)
    print("| shape | floor | usercom-mock | × floor | usercom-mock --strict | × floor |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['shape']} | {r['floor']:,.0f} | {r['sim']:,.0f} | {r['sim'] / r['floor']:.2f} "
              f"| {r['strict']:,.0f} | {r['strict'] / r['floor']:.2f} |")
    with open(os.path.join(bench.OUT, "instructions.json"), "w") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
