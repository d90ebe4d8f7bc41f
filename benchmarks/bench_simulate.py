"""Simulator speed and memory: does `graphtrail simulate` stream, and what does an event cost?

    .venv/bin/python benchmarks/bench_simulate.py [--events 1000000] [--factor 10] [--workdir /tmp/gt-sim]

Runs the simulation for --events over 7 days and for --factor times as many over --factor times as many days
(same seed and organisation, the same event rate), in child processes so each peak RSS is its own, and prints
events/s and the ratio of the two peaks: memory must not grow with the event count. (It does grow with the
rate: records wait in their 5-minute delivery window, so 10x the events in the same 7 days hold 10x as many.)

The baseline, measured in this process on the smaller run's output, is
the least any writer of the same files must do: gzip (level 6) the same JSON. Its ratio says how much of
the simulator's time goes into making the records rather than writing them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = """
import json, resource, sys
from pathlib import Path
from graphtrail.simulate import SimulationConfig, simulate
summary = simulate(SimulationConfig(out=Path(sys.argv[1]), events=int(sys.argv[2]), days=int(sys.argv[3]), seed=5))
print(json.dumps({"events": summary.events, "seconds": summary.seconds, "files": summary.files,
                  "bytes": summary.bytes_written,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def run(out: Path, events: int, days: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-c", CHILD, str(out), str(events), str(days)]
    done = subprocess.run(command, check=True, capture_output=True)
    return json.loads(done.stdout)


def gzip_baseline(out: Path) -> tuple[int, float]:
    """Compress every log file's JSON again (bodies read and decompressed first, untimed)."""
    bodies = [gzip.decompress(p.read_bytes()) for p in sorted(out.rglob("*.json.gz"))]
    started = time.perf_counter()
    for body in bodies:
        gzip.compress(body, compresslevel=6, mtime=0)
    return sum(len(b) for b in bodies), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gt-sim"))
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    results = {}
    runs = ((args.events, 7), (args.events * args.factor, 7 * args.factor))
    for events, days in runs:  # both children first: a child forked after the baseline inherits its peak RSS
        out = args.workdir / f"sim-{events}"
        figures = results[events] = run(out, events, days)
        print(
            f"{figures['events']:>12,} events in {days} days: {figures['seconds']:7.1f} s, "
            f"{figures['events'] / figures['seconds']:9,.0f} events/s, {figures['files']:,} files, "
            f"{figures['bytes'] / 1e6:,.0f} MB gzip, peak RSS {figures['peak_rss'] / 2**20:,.0f} MiB"
        )
        if events != args.events:
            shutil.rmtree(out, ignore_errors=True)
    smaller = args.workdir / f"sim-{args.events}"
    json_bytes, seconds = gzip_baseline(smaller)
    print(
        f"baseline (gzip -6 of the {args.events:,}-event run's {json_bytes / 1e6:,.0f} MB of JSON): {seconds:.1f} s; "
        f"the simulation takes {results[args.events]['seconds'] / seconds:.1f}x as long"
    )
    shutil.rmtree(smaller, ignore_errors=True)
    small, large = (results[n]["peak_rss"] for n in sorted(results))
    print(f"peak RSS {args.events * args.factor:,} / {args.events:,} events: {large / small:.2f}x")


if __name__ == "__main__":
    main()
