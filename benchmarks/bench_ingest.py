"""Ingest speed and memory against a same-run baseline (gunzip + JSON parse of the same files).

    .venv/bin/python benchmarks/bench_ingest.py [--events 1000000] [--double] [--workdir benchmarks/out]
        [--accounts 5 --days 7]

Makes the corpus with `graphtrail simulate` if it is missing (an organisation of 5 accounts over 7 days unless
--accounts/--days say otherwise, all attacks and decoys), then for each size: the baseline in this process (the
fastest of --baseline-runs runs, 2 by default: the first may read from disk, the next from the page cache), the
ingest in a fresh child process (so its peak RSS is its own), and loading the graph from the case. With --double
it also ingests a corpus twice as dense (same seed: the same organisation over the same days, twice the
routine activity) to show that memory follows the graph, not the number of events. It also prints the CPU time
one event cost the main process and the workers, and the rate this machine's cores would allow at that cost: the
ceiling for the present design.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS_DAYS = 7
CORPUS_ACCOUNTS = 5
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from baseline import baseline_parse, find_log_files  # noqa: E402

CHILD = """
import json, resource, sys, time
from graphtrail.ingest import ingest_paths
start = time.perf_counter()
summary = ingest_paths([sys.argv[1]], sys.argv[2])
seconds = time.perf_counter() - start
main, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"events": summary.events_ingested, "read": summary.records_read, "seconds": seconds,
                  "peak_rss": main.ru_maxrss * 1024, "worker_peak_rss": children.ru_maxrss * 1024,
                  "main_cpu": main.ru_utime + main.ru_stime, "workers_cpu": children.ru_utime + children.ru_stime,
                  "workers": summary.workers, "balanced": summary.balanced}))
"""

LOAD = """
import json, resource, sys, time
from graphtrail.case import Case
from graphtrail.graph import load_graph
start = time.perf_counter()
with Case(sys.argv[1]) as case:
    graph = load_graph(case)
print(json.dumps({"seconds": time.perf_counter() - start, "nodes": graph.number_of_nodes(),
                  "edges": graph.number_of_edges(),
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def ensure_corpus(directory: Path, events: int, seed: int, accounts: int, days: int) -> None:
    marker = directory / ".complete"
    wanted = str(events) if (accounts, days) == (CORPUS_ACCOUNTS, CORPUS_DAYS) else f"{events} {accounts} {days}"
    if marker.exists() and marker.read_text().strip() == wanted:
        return
    command = [
        sys.executable,
        "-m",
        "graphtrail.cli",
        "simulate",
        "--out",
        str(directory),
        "--events",
        str(events),
        "--days",
        str(days),
        "--accounts",
        str(accounts),
        "--seed",
        str(seed),
        "--overwrite",
    ]
    subprocess.run(command, check=True)
    marker.write_text(wanted)


def run_child(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(directory: Path, case_path: Path, baseline_runs: int) -> dict:
    files = find_log_files(directory)  # what ingest reads: digests and the ground truth left out
    # The first run may read from disk and a later one from the page cache: the fastest run is the baseline,
    # the harder one to keep up with, and the others are shown beside it.
    runs = [baseline_parse(files) for _ in range(max(1, baseline_runs))]
    base_events = runs[0][0]
    base_seconds = min(seconds for _, seconds in runs)
    if case_path.exists():
        case_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(case_path) + suffix).unlink(missing_ok=True)
    ingest = run_child(CHILD, str(directory), str(case_path))
    load = run_child(LOAD, str(case_path))
    return {
        "files": len(files),
        "baseline_events": base_events,
        "baseline_seconds": base_seconds,
        "baseline_runs": [seconds for _, seconds in runs],
        "ingest": ingest,
        "load": load,
        "case_bytes": case_path.stat().st_size,
    }


def report(label: str, figures: dict) -> None:
    base_rate = figures["baseline_events"] / figures["baseline_seconds"]
    ingest = figures["ingest"]
    rate = ingest["read"] / ingest["seconds"]
    load = figures["load"]
    print(f"== {label}: {figures['files']} files, {figures['baseline_events']:,} events")
    runs = ", ".join(f"{seconds:.1f}" for seconds in figures["baseline_runs"])
    print(
        f"baseline gunzip+parse : {figures['baseline_seconds']:8.1f} s  {base_rate:12,.0f} events/s"
        f"  (fastest of {len(figures['baseline_runs'])} runs: {runs} s)"
    )
    print(
        f"ingest into a case    : {ingest['seconds']:8.1f} s  {rate:12,.0f} events/s"
        f"  = {rate / base_rate:.0%} of baseline"
        f"  ({ingest['workers']} workers; peak RSS main {ingest['peak_rss'] / 2**20:,.0f} MiB,"
        f" largest worker {ingest['worker_peak_rss'] / 2**20:,.0f} MiB; balanced={ingest['balanced']})"
    )
    main_us, workers_us = (ingest[name] / ingest["read"] * 1e6 for name in ("main_cpu", "workers_cpu"))
    ceiling = (os.cpu_count() or 1) / (main_us + workers_us) * 1e6
    print(
        f"CPU per event         : main {main_us:.1f} µs + workers {workers_us:.1f} µs;"
        f" {os.cpu_count()} cores allow at most {ceiling:,.0f} events/s = {ceiling / base_rate:.0%} of baseline"
    )
    print(
        f"load graph from case  : {load['seconds']:8.2f} s  ({load['nodes']:,} nodes, {load['edges']:,} edges)"
        f"  = {ingest['seconds'] / load['seconds']:.0f}x faster than ingest, "
        f"{figures['baseline_seconds'] / load['seconds']:.0f}x faster than the bare parse"
    )
    print(f"case file             : {figures['case_bytes'] / 2**20:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--double", action="store_true", help="also run a corpus twice as dense")
    parser.add_argument("--workdir", type=Path, default=HERE / "out")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=CORPUS_ACCOUNTS, help="accounts in the simulated organisation")
    parser.add_argument("--days", type=int, default=CORPUS_DAYS, help="days the corpus spans")
    parser.add_argument(
        "--baseline-runs", type=int, default=2, help="baseline runs per corpus; the fastest (page cache warm) counts"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    sizes = [args.events] + ([args.events * 2] if args.double else [])
    results = {}
    for events in sizes:
        default_shape = (args.accounts, args.days) == (CORPUS_ACCOUNTS, CORPUS_DAYS)
        shape = "" if default_shape else f"-a{args.accounts}-d{args.days}"
        corpus = args.workdir / f"corpus-{events}{shape}"
        started = time.perf_counter()
        ensure_corpus(corpus, events, args.seed, args.accounts, args.days)
        print(f"corpus {corpus} ready ({time.perf_counter() - started:.0f} s)")
        results[events] = measure(corpus, args.workdir / f"bench-{events}{shape}.case", args.baseline_runs)
        report(f"{events:,} events", results[events])
    if len(sizes) == 2:
        small, large = (results[size]["ingest"]["peak_rss"] for size in sizes)
        print(f"peak RSS {sizes[1]:,} / {sizes[0]:,} events: {large / small:.2f}x (target <= 1.3x)")
    print(f"(this process's own peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB)")


if __name__ == "__main__":
    main()
