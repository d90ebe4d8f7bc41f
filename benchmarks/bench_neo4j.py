"""Loading a case into Neo4j: nodes/s and relationships/s by batch size and sessions, with or without the Rust codec.

    .venv/bin/python benchmarks/bench_neo4j.py CASE [--uri bolt://…] [--batch-sizes 2000,10000] [--sessions 1,2]
        [--codecs rust,python] [--repeat 2]
    .venv/bin/python benchmarks/bench_neo4j.py CASE --series 10 [--uri bolt://…]
    (either with [--jit full|quick])

CASE is a case ingested from a simulator corpus (e.g. `graphtrail simulate --out /tmp/sim1m --events 1000000
--days 30 --accounts 50 --seed 11` then `graphtrail ingest /tmp/sim1m --case /tmp/sim1m.case`).

Without --uri (or NEO4J_URI) every measurement gets its own fresh Neo4j, started with scripts/neo4j-launcher
with the JVM's full JIT, as Neo4j's own server runs (`--jit quick`: the C1-only JIT the launcher gives the
tests), and stopped after it: the first load is into a server that has run nothing yet, which is what a user
who starts Neo4j and loads a case sees. With --uri every measurement shares that server (its first load is only
fresh if the server is), and graphtrail's nodes are wiped before it.

Each measurement runs in a child process: a fresh driver, the codec chosen (the Rust extension
`neo4j-rust-ext`, or the driver's pure-Python packstream, forced by hiding `neo4j._rust`). In order: the first
load; a re-load with nothing new (what the hash check costs); the baseline, the same relationship rows sent in
the same transactions to a statement that only counts them (`UNWIND $rows AS row RETURN count(*)`: what the
driver and Bolt cost before Neo4j writes anything); and a load after `--wipe` into the same server ("warm":
its statements planned, its JIT warmed).

`--series N` measures what a user's long-running Neo4j gives instead: one server and N loads of the case after
`--wipe`, one after the other, each printed, so the warm-up shows and the rate a server reaches once it has
run for a while can be read off the later loads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
if sys.argv[3] == "python":
    sys.modules["neo4j._rust"] = None  # the driver falls back to its pure-Python packstream
import neo4j
from graphtrail.case import Case
from graphtrail.graphdb import load as loader
from graphtrail.graphdb.connection import open_driver, settings_from

case_path, batch_size, codec, sessions = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
try:
    import neo4j._rust  # noqa: F401
    loaded = "rust"
except ImportError:
    loaded = "python"
assert loaded == codec, (loaded, codec)
driver = open_driver(settings_from())
with Case(case_path) as case:
    with driver.session() as session:
        loader.wipe(session)  # a no-op on a fresh server
    first = loader.load_case(driver, case, batch_size=batch_size, sessions=sessions)
    again = loader.load_case(driver, case, batch_size=batch_size, sessions=sessions)
    edges = [loader.edge_row(e) for e in case.edge_states(include_derived=True)]
    rows = [{"src": e.src, "dst": e.dst, "type": e.type, "props": e.props} for e in edges]
    with driver.session() as session:
        started = time.perf_counter()
        groups = [("UNWIND $rows AS row RETURN count(*) AS written", rows)]
        for work in loader._transactions(groups, batch_size):
            loader._write(session, work)
        baseline = time.perf_counter() - started
    warm = loader.load_case(driver, case, batch_size=batch_size, wipe_first=True, sessions=sessions)
driver.close()
print(json.dumps({
    "codec": codec, "batch_size": batch_size, "sessions": sessions,
    "nodes": first.nodes, "relationships": first.relationships,
    "node_seconds": first.node_seconds, "relationship_seconds": first.relationship_seconds,
    "seconds": first.seconds, "transactions": first.batches, "baseline_seconds": baseline,
    "reload_seconds": again.seconds, "reload_written": again.nodes_written + again.relationships_written,
    "warm_node_seconds": warm.node_seconds, "warm_relationship_seconds": warm.relationship_seconds,
    "load_average": os.getloadavg()[0],
}))
"""


SERIES_CHILD = r"""
import json, os, sys
from graphtrail.case import Case
from graphtrail.graphdb import load as loader
from graphtrail.graphdb.connection import open_driver, settings_from

case_path, batch_size, sessions, loads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
driver = open_driver(settings_from())
with Case(case_path) as case:
    for number in range(1, loads + 1):
        done = loader.load_case(driver, case, batch_size=batch_size, wipe_first=True, sessions=sessions)
        print(json.dumps({
            "load": number, "nodes": done.nodes, "relationships": done.relationships,
            "written": done.relationships_written, "node_seconds": done.node_seconds,
            "relationship_seconds": done.relationship_seconds, "seconds": done.seconds,
            "load_average": os.getloadavg()[0],
        }), flush=True)
driver.close()
"""


def start_launcher(java_options: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """A fresh Neo4j from scripts/neo4j-launcher; `java_options` replaces its JVM options (NEO4J_JAVA_OPTS)."""
    env = dict(os.environ)
    if java_options is not None:
        env["NEO4J_JAVA_OPTS"] = java_options
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "neo4j-launcher"), "start"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    uri = process.stdout.readline().strip()
    if not uri.startswith("bolt://"):
        process.kill()
        raise SystemExit(f"the launcher did not start: {uri!r}")
    return process, uri


# The JVM options per --jit: Neo4j's own server runs the full JIT; the launcher's default for the tests is the
# quick one (scripts/neo4j-launcher).
JIT_OPTIONS = {"full": "", "quick": "-XX:TieredStopAtLevel=1"}


def measure(case: str, size: int, codec: str, sessions: int, uri: str | None, jit: str) -> dict[str, object]:
    """One measurement in a child process, on a fresh launcher unless `uri` names a server."""
    launcher = None
    if uri is None:
        launcher, uri = start_launcher(JIT_OPTIONS[jit])
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, case, str(size), codec, str(sessions)],
            env={**os.environ, "NEO4J_URI": uri}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        if launcher is not None:
            stop_launcher(launcher)


def stop_launcher(launcher: subprocess.Popen[str]) -> None:
    assert launcher.stdin is not None
    launcher.stdin.close()
    launcher.wait(timeout=120)


def series(case: str, size: int, sessions: int, loads: int, uri: str | None, jit: str) -> None:
    """N loads into one long-running server, each printed as it ends (a Markdown table)."""
    launcher = None
    if uri is None:
        launcher, uri = start_launcher(JIT_OPTIONS[jit])
    server = "the server at --uri" if launcher is None else f"one launcher ({jit} JIT)"
    print(f"{loads} loads of {case} into {server}, each after --wipe; batch {size:,}, {sessions} session(s).\n")
    print("| load | nodes/s | relationships | relationships/s | whole load (s) | load average |")
    print("|---|---|---|---|---|---|")
    rates = []
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", SERIES_CHILD, case, str(size), str(sessions), str(loads)],
            env={**os.environ, "NEO4J_URI": uri}, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        for line in child.stdout:
            r = json.loads(line)
            rates.append(r["relationships"] / r["relationship_seconds"])
            print(
                f"| {r['load']} | {r['nodes'] / r['node_seconds']:,.0f} | {r['written']:,} | {rates[-1]:,.0f} | "
                f"{r['seconds']:.2f} | {r['load_average']:.1f} |",
                flush=True,
            )
        if child.wait() != 0:
            raise SystemExit(f"the loads failed (exit {child.returncode})")
    finally:
        if launcher is not None:
            stop_launcher(launcher)
    later = sorted(rates[len(rates) // 2 :])
    if later:
        print(
            f"\nLater half (loads {len(rates) - len(later) + 1}-{len(rates)}): median {statistics.median(later):,.0f}, "
            f"lowest {later[0]:,.0f} relationships/s; first load {rates[0]:,.0f}."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("--uri", default=os.environ.get("NEO4J_URI"))
    parser.add_argument("--batch-sizes", default="2000")
    parser.add_argument("--sessions", default="2", help="Sessions writing relationships at once, e.g. 1,2.")
    parser.add_argument("--codecs", default="rust")
    parser.add_argument("--repeat", type=int, default=2, help="Loads per setting; the best is reported.")
    parser.add_argument("--series", type=int, metavar="N", help="N loads into one long-running server, each printed.")
    parser.add_argument(
        "--jit",
        choices=sorted(JIT_OPTIONS),
        default="full",
        help="The launcher's JIT: full (Neo4j's own server, the default) or quick (the tests' launcher).",
    )
    args = parser.parse_args()
    if args.series:
        size = int(args.batch_sizes.split(",")[0])
        series(args.case, size, int(args.sessions.split(",")[0]), args.series, args.uri, args.jit)
        return
    results = []
    for codec in args.codecs.split(","):
        for size in (int(s) for s in args.batch_sizes.split(",")):
            for sessions in (int(s) for s in args.sessions.split(",")):
                runs = []
                for _ in range(args.repeat):
                    runs.append(measure(args.case, size, codec, sessions, args.uri, args.jit))
                    print(json.dumps(runs[-1]), file=sys.stderr)
                results.append(min(runs, key=lambda r: float(r["relationship_seconds"])))  # type: ignore[arg-type]
    server = "the server at --uri" if args.uri else f"a fresh launcher ({args.jit} JIT) per load"
    print(f"First load into {server}; warm = after --wipe into the same server. Best of {args.repeat}.\n")
    print(
        "| codec | batch | sessions | nodes | nodes/s | relationships | relationships/s | first load (s) | "
        "warm nodes/s | warm relationships/s | baseline (count only) rel/s | write / baseline | transactions | "
        "re-load (nothing new) | load average |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        rate = r["relationships"] / r["relationship_seconds"]
        base = r["relationships"] / r["baseline_seconds"]
        ratio = r["relationship_seconds"] / r["baseline_seconds"]
        print(
            f"| {r['codec']} | {r['batch_size']:,} | {r['sessions']} | {r['nodes']:,} | "
            f"{r['nodes'] / r['node_seconds']:,.0f} | "
            f"{r['relationships']:,} | {rate:,.0f} | {r['seconds']:.1f} | {r['nodes'] / r['warm_node_seconds']:,.0f} | "
            f"{r['relationships'] / r['warm_relationship_seconds']:,.0f} | {base:,.0f} | {ratio:.1f}x | "
            f"{r['transactions']} | {r['reload_seconds']:.2f} s ({r['reload_written']} written) | "
            f"{r['load_average']:.1f} |"
        )


if __name__ == "__main__":
    main()
