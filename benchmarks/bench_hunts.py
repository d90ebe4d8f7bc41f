"""Hunts and graph questions on a large simulated case: seconds and peak RSS.

    .venv/bin/python benchmarks/bench_hunts.py CASE GROUND_TRUTH_JSON

CASE is a case ingested from a `graphtrail simulate` corpus (bench_ingest.py leaves one, e.g.
/tmp/gt-bench/bench-1000000.case, with the corpus's ground truth beside it). Each measurement runs in a
fresh child process so its peak RSS is its own. The baseline, in the same run, is loading the graph alone:
what any hunt over the graph must at least pay.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

STEPS = {
    "load graph (baseline)": """
from graphtrail.graph import load_graph
with Case(case_path) as case:
    graph = load_graph(case)
result = {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()}
""",
    "all hunts + incidents": """
from graphtrail.hunts import hunt_report
from graphtrail.hunts.context import HuntContext
with Case(case_path) as case:
    report = hunt_report(HuntContext(case))
result = {"findings": len(report.findings), "incidents": len(report.incidents)}
""",
    "path: leaked key -> backdoor key": """
from graphtrail.graph import load_graph
from graphtrail.paths import PathFinder
story = next(s for s in truth["scenarios"] if s["name"] == "leaked-ci-key")
new_key = next(s["target"] for s in story["steps"] if s["action"] == "CreateAccessKey")
leaked = next(k for k in story["attacker"]["keys"] if k != new_key)
with Case(case_path) as case:
    paths = PathFinder(case, load_graph(case)).find(leaked, new_key)
result = {"paths": len(paths), "hops": len(paths[0].hops) if paths else 0}
""",
    "blast radius: stolen instance key": """
from graphtrail.paths import blast_radius
story = next(s for s in truth["scenarios"] if s["name"] == "stolen-instance-credentials")
with Case(case_path) as case:
    radius = blast_radius(case, story["attacker"]["keys"][0], story["start"])
result = {"events": radius.events, "resources": len(radius.resources)}
""",
}
PRELUDE = """
import json, resource, sys, time
from graphtrail.case import Case
case_path = sys.argv[1]
truth = json.loads(open(sys.argv[2]).read())
started = time.perf_counter()
"""
CODA = """
result["seconds"] = time.perf_counter() - started
result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
"""


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    case_path, truth_path = Path(sys.argv[1]), Path(sys.argv[2])
    with __import__("sqlite3").connect(case_path) as db:
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    print(f"case {case_path}: {events:,} events")
    baseline = None
    for label, code in STEPS.items():
        done = subprocess.run(
            [sys.executable, "-c", PRELUDE + code + CODA, str(case_path), str(truth_path)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(done.stdout)
        seconds, rss = figures.pop("seconds"), figures.pop("peak_rss")
        baseline = baseline or seconds
        details = ", ".join(f"{k} {v:,}" for k, v in figures.items())
        print(
            f"{label:38} {seconds:7.2f} s ({seconds / baseline:5.1f}x the graph load), "
            f"peak RSS {rss / 2**20:6,.0f} MiB; {details}"
        )


if __name__ == "__main__":
    main()
