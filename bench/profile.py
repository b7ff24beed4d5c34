#!/usr/bin/env python3
"""Profile usercom-mock under the benchmark's request shapes (a) events and (b) site views.

`python3 bench/profile.py` (after `bash bench/run.sh` has built everything and installed wrk):
samples the simulator with `perf record -e cpu-clock` (a software clock: works in VMs where
hardware counters such as `instructions` are not exposed) and DWARF call graphs, while wrk drives
one shape; writes flat (self) and inclusive (children) reports to bench/out/profile-SHAPE-*.txt.
`python3 bench/profile.py forwarder` samples `usercom-forwarder serve --no-spool` instead, while
the end-to-end benchmark's batches (PROFILE_EVENTS, default 100,000) go through it into the
simulator, and prints its CPU time per event.
"""

import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SECONDS = int(os.environ.get("PROFILE_SECONDS", "8"))
FREQ = os.environ.get("PROFILE_FREQ", "300")


def report(data, out, children):
    args = ["perf", "report", "-i", data, "--stdio", "--sort", "symbol", "--percent-limit", "0.8",
            "-g", "none"]
    args.append("--children" if children else "--no-children")
    with open(out, "w") as f:
        subprocess.run(args, stdout=f, stderr=subprocess.DEVNULL, check=False, timeout=600)


def forwarder():
    """`serve --no-spool` sampled while the benchmark's end-to-end batches go through it."""
    n = int(os.environ.get("PROFILE_EVENTS", "100000"))
    bodies = bench.batch_bodies(bench.gen_events(n, "prof", seed=43))
    with tempfile.TemporaryDirectory(prefix="usercom-profile-") as tmp:
        mock, mport = bench.start_mock()
        fport = bench.free_port()
        fwd = bench.spawn(bench.serve_cmd(fport, mport), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=dict(os.environ, RUST_LOG="warn"))
        bench.wait_status(fport, "/health")
        data = os.path.join(tmp, "perf-forwarder.data")
        rec = bench.spawn(["perf", "record", "-e", "cpu-clock", "-F", FREQ, "--call-graph", "dwarf,16384",
                           "-p", str(fwd.pid), "-o", data],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu0 = bench.cpu_s(fwd.pid)
        bench.post_batches(fport, bodies, conns=4)
        bench.wait_delivered(fport, n, limit_s=3600)
        cpu = bench.cpu_s(fwd.pid) - cpu0
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=300)
        bench.log(f"forwarder: {cpu * 1e6 / n:.1f} µs CPU per event over {n:,} events; writing reports")
        report(data, os.path.join(bench.OUT, "profile-forwarder-self.txt"), children=False)
        report(data, os.path.join(bench.OUT, "profile-forwarder-children.txt"), children=True)
        bench.stop(fwd)
        bench.stop(mock)
    bench.log(f"reports in {bench.OUT}/profile-forwarder-*.txt")


def main():
    os.makedirs(bench.OUT, exist_ok=True)
    if sys.argv[1:] == ["forwarder"]:
        return forwarder()
    with tempfile.TemporaryDirectory(prefix="usercom-profile-") as tmp:
        users = os.path.join(tmp, "users.txt")
        p, port = bench.start_mock()
        bench.seed_mock(port, users)
        for shape in ("events", "site_views"):
            bench.run_wrk(port, shape, 2, users)  # warm-up
            data = os.path.join(tmp, f"perf-{shape}.data")
            rec = bench.spawn(["perf", "record", "-e", "cpu-clock", "-F", FREQ, "--call-graph",
                               "dwarf,16384", "-p", str(p.pid), "-o", data, "--", "sleep", str(SECONDS)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            d = bench.run_wrk(port, shape, SECONDS, users)
            rec.wait(timeout=120)
            bench.log(f"{shape}: {d['rps']:.0f} req/s while sampled; writing reports")
            report(data, os.path.join(bench.OUT, f"profile-{shape}-self.txt"), children=False)
            report(data, os.path.join(bench.OUT, f"profile-{shape}-children.txt"), children=True)
        bench.stop(p)
    bench.log(f"reports in {bench.OUT}/profile-*.txt")


if __name__ == "__main__":
    main()
