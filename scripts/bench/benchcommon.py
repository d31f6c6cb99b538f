"""Shared timing harness of the companion scripts of `detr-bench` (scripts/bench/*_ref.py)."""
import argparse
import json
import resource
import statistics
import time


def peak_rss_mb():
    """VmHWM of this process (ru_maxrss is carried across execve on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(work, runs, warmup=True):
    """Runs `work` once to warm up (unless told not to), then `runs` times; prints the JSON
    line detr-bench reads: {"seconds": median, "peak_rss_mb": peak}."""
    if warmup:
        work()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": statistics.median(times), "peak_rss_mb": peak_rss_mb()}))


def run_case_cli(prepare):
    """`SCRIPT CASE [--runs N]`: prepare(case) returns the timed work; prints its measurement."""
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    measure(prepare(args.case), args.runs)
