"""Loading a case into Neo4j: nodes/s and relationships/s by batch size, with and without the Rust codec.

    .venv/bin/python benchmarks/bench_neo4j.py CASE [--uri bolt://…] [--batch-sizes 1000,5000,10000,20000]

CASE is a case ingested from a simulator corpus (e.g. `graphtrail simulate --out /tmp/sim1m --events 1000000
--days 7 --accounts 5 --seed 11` then `graphtrail ingest /tmp/sim1m --case /tmp/sim1m.case`). Without --uri
(or NEO4J_URI) a fresh Neo4j is started with scripts/neo4j-launcher and stopped at the end; its database is
wiped (graphtrail's nodes only) before every measured load.

Each measurement runs in a child process: a fresh driver, the codec chosen (the Rust extension
`neo4j-rust-ext`, or the driver's pure-Python packstream, forced by hiding `neo4j._rust`). The baseline, in
the same run and the same child, is sending the same relationship rows in the same transactions to a
statement that only counts them (`UNWIND $rows AS row RETURN count(*)`): what the driver and Bolt cost before
Neo4j writes anything. Then an idempotent re-load (nothing to write) shows what the hash check costs, and a
load after `--wipe` into the same server ("warm": its statements already planned, its JIT warmed) shows the
steady state a server reaches once it has loaded a case; the first load into a fresh server pays for planning
each of the ~100 statements (one per node kind and relationship type) once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
if sys.argv[3] == "python":
    sys.modules["neo4j._rust"] = None  # the driver falls back to its pure-Python packstream
import neo4j
from graphtrail.case import Case
from graphtrail.graphdb import load as loader
from graphtrail.graphdb.connection import open_driver, settings_from

case_path, batch_size, codec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    import neo4j._rust  # noqa: F401
    loaded = "rust"
except ImportError:
    loaded = "python"
assert loaded == codec, (loaded, codec)
driver = open_driver(settings_from())
with Case(case_path) as case:
    edges = [loader.edge_row(e) for e in case.edge_states(include_derived=True)]
    rows = [{"src": e.src, "dst": e.dst, "action": e.action, "props": e.props} for e in edges]
    with driver.session() as session:
        loader.wipe(session)
        started = time.perf_counter()
        groups = [("UNWIND $rows AS row RETURN count(*) AS written", rows)]
        for work in loader._transactions(groups, batch_size):
            loader._write(session, work)
        baseline = time.perf_counter() - started
    first = loader.load_case(driver, case, batch_size=batch_size)
    again = loader.load_case(driver, case, batch_size=batch_size)
    warm = loader.load_case(driver, case, batch_size=batch_size, wipe_first=True)
driver.close()
print(json.dumps({
    "codec": codec, "batch_size": batch_size, "nodes": first.nodes, "relationships": first.relationships,
    "node_seconds": first.node_seconds, "relationship_seconds": first.relationship_seconds,
    "seconds": first.seconds, "transactions": first.batches, "baseline_seconds": baseline,
    "reload_seconds": again.seconds, "reload_written": again.nodes_written + again.relationships_written,
    "warm_node_seconds": warm.node_seconds, "warm_relationship_seconds": warm.relationship_seconds,
}))
"""


def start_launcher() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "neo4j-launcher"), "start"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    uri = process.stdout.readline().strip()
    if not uri.startswith("bolt://"):
        process.kill()
        raise SystemExit(f"the launcher did not start: {uri!r}")
    return process, uri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("--uri", default=os.environ.get("NEO4J_URI"))
    parser.add_argument("--batch-sizes", default="1000,5000,10000,20000")
    parser.add_argument("--codecs", default="rust,python")
    parser.add_argument("--repeat", type=int, default=2, help="Loads per setting; the best is reported.")
    args = parser.parse_args()
    launcher = None
    uri = args.uri
    if not uri:
        launcher, uri = start_launcher()
    env = {**os.environ, "NEO4J_URI": uri}
    results = []
    try:
        for codec in args.codecs.split(","):
            for size in (int(s) for s in args.batch_sizes.split(",")):
                runs = []
                for _ in range(args.repeat):
                    done = subprocess.run(
                        [sys.executable, "-c", CHILD, args.case, str(size), codec],
                        env=env, capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                best = min(runs, key=lambda r: r["seconds"])
                results.append(best)
                print(json.dumps(best), file=sys.stderr)
    finally:
        if launcher is not None:
            assert launcher.stdin is not None
            launcher.stdin.close()
            launcher.wait(timeout=60)
    print(
        "| codec | batch | nodes | nodes/s | relationships | relationships/s | warm nodes/s | warm relationships/s | "
        "baseline (count only) rel/s | write / baseline | transactions | re-load (nothing new) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        rate = r["relationships"] / r["relationship_seconds"]
        base = r["relationships"] / r["baseline_seconds"]
        ratio = r["relationship_seconds"] / r["baseline_seconds"]
        print(
            f"| {r['codec']} | {r['batch_size']:,} | {r['nodes']:,} | {r['nodes'] / r['node_seconds']:,.0f} | "
            f"{r['relationships']:,} | {rate:,.0f} | {r['nodes'] / r['warm_node_seconds']:,.0f} | "
            f"{r['relationships'] / r['warm_relationship_seconds']:,.0f} | {base:,.0f} | {ratio:.1f}x | "
            f"{r['transactions']} | {r['reload_seconds']:.2f} s ({r['reload_written']} written) |"
        )


if __name__ == "__main__":
    main()
