"""Time until the browser view is usable, for pages of 200, 2,000 and 5,000 nodes, in Debian's headless Chromium.

Each page is built by graphtrail's own model and page code from a synthetic graph shaped like an attack view
(addresses, keys, identities, sessions, resources and services; about 1.3 edges per node; one numbered attack
path per 50 nodes), then opened from file:// with the test flags. Measured per size, median of --repeat runs:

- build: Python time from the graph to the HTML (layout, model, page);
- ready: navigation start until the page reports ready (vis-network drew the first frame, the panel is built);
- click: a click on a finding until its path is highlighted and drawn (two animation frames), timed in the page;
- baseline: the same measurement for a page with no node, in the same run: the fixed cost of the browser and
  of parsing vis-network, so `ready / baseline` is what the graph itself costs.

    .venv/bin/python benchmarks/bench_viz.py --sizes 200,2000,5000 --repeat 3
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
from playwright.sync_api import sync_playwright

from graphtrail.case import Case
from graphtrail.findings import Finding, Hop, Severity
from graphtrail.viz.focus import ViewFocus
from graphtrail.viz.model import build_model
from graphtrail.viz.page import render_html
from graphtrail.viz.scope import Scope

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser import launch_chromium  # the tests' Chromium: the same binary and flags

_KINDS = ("IP", "AccessKey", "User", "Session", "Resource", "Service")


def synthetic_scope(size: int, seed: int = 7) -> tuple[nx.MultiDiGraph, Scope]:
    """A graph of `size` nodes in chains IP -> key -> identity -> resource, with cross links and findings."""
    rng = random.Random(seed)
    graph = nx.MultiDiGraph()
    by_kind: dict[str, list[str]] = {kind: [] for kind in _KINDS}
    for i in range(size):
        kind = _KINDS[i % len(_KINDS)] if i >= 6 else _KINDS[i]
        key = f"{kind.lower()}-{i}"
        stamp = f"2026-11-0{1 + i % 5}T{i % 24:02d}:{i % 60:02d}:00Z"
        graph.add_node(key, kind=kind, account="123456789012", name=key, first_seen=stamp, last_seen=stamp)
        by_kind[kind].append(key)

    def add(src: str, dst: str, action: str) -> tuple[str, str, str]:
        first = min(graph.nodes[src]["first_seen"], graph.nodes[dst]["first_seen"])
        graph.add_edge(src, dst, key=action, type=action, count=rng.randint(1, 40), error_count=0, errors={},
                       first_seen=first, last_seen=first, traversable=False, source_ips=[], user_agents=["bench"],
                       regions=["us-east-1"], access_keys=[], event_ids=[], facts={})  # fmt: skip
        return (src, dst, action)

    edges: list[tuple[str, str, str]] = []
    identities = by_kind["User"] + by_kind["Session"]
    for i, key in enumerate(by_kind["AccessKey"]):
        edges.append(add(key, identities[i % len(identities)], "AUTHENTICATES"))
        edges.append(add(key, by_kind["IP"][i % len(by_kind["IP"])], "FROM_IP"))
    targets = by_kind["Resource"] + by_kind["Service"]
    actions = ("GetObject", "ListBuckets", "PutBucketPolicy", "CreateAccessKey", "DescribeInstances")
    for identity in identities:
        for _ in range(3):
            edges.append(add(identity, rng.choice(targets), rng.choice(actions)))
    edges = list(dict.fromkeys(edges))
    findings = []
    path_order: dict[tuple[str, str, str], int] = {}
    for n in range(max(1, size // 50)):
        chosen = sorted(rng.sample(edges, 4), key=lambda e: graph.edges[e]["first_seen"])
        hops = [
            Hop(u, k, v, graph.edges[u, v, k]["first_seen"], (f"ev-{n}-{j}",)) for j, (u, v, k) in enumerate(chosen)
        ]
        findings.append(_scoped(Finding("bench", "bench:path", f"Synthetic path {n}", Severity.HIGH, 0.9, [], hops,
                                        "synthetic"), chosen))  # fmt: skip
        for step, edge in enumerate(chosen, 1):
            path_order.setdefault(edge, step)
    scope = Scope(ViewFocus(), list(graph.nodes), edges, [], findings, path_order, set(), {}, size)
    return graph, scope


def _scoped(finding: Finding, edges: list[tuple[str, str, str]]):
    from graphtrail.viz.scope import ScopedFinding

    return ScopedFinding(finding, tuple(edges), None)


def measure(page_path: Path, context, click: bool) -> tuple[float, float | None]:
    page = context.new_page()
    try:
        page.goto(page_path.as_uri())
        page.wait_for_function("window.graphtrail && window.graphtrail.ready === true", timeout=120_000, polling=20)
        ready = page.evaluate("window.graphtrail.readyAt") / 1000
        clicked = None
        if click:  # in the page: the click's handler, then two frames (the highlighted one is on screen)
            clicked = (
                page.evaluate(
                    """() => new Promise((done) => {
                    const started = performance.now();
                    document.querySelector("button.finding").click();
                    requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - started)));
                })"""
                )
                / 1000
            )
        return ready, clicked
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200,2000,5000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="gt-bench-viz-"))
    case = Case(work / "empty.case", create=True)
    pages: dict[int, tuple[Path, float, int, int]] = {}
    for size in [0, *sizes]:
        graph, scope = synthetic_scope(size) if size else (nx.MultiDiGraph(), None)
        started = time.perf_counter()
        if scope is None:
            scope = Scope(ViewFocus(), [], [], [], [], {}, set(), {}, 0)
        html = render_html(build_model(graph, case, scope), f"bench {size}")
        built = time.perf_counter() - started
        path = work / f"page-{size}.html"
        path.write_text(html, encoding="utf-8")
        pages[size] = (path, built, len(scope.edges), len(html))
    results: dict[int, dict[str, float | None]] = {}
    with sync_playwright() as playwright:
        for size, (path, built, _, _) in pages.items():
            readies, clicks = [], []
            for _ in range(args.repeat):
                context = launch_chromium(playwright, Path(tempfile.mkdtemp(prefix="gt-chromium-")), width=1600)
                try:
                    ready, clicked = measure(path, context, click=size > 0)
                finally:
                    context.close()
                readies.append(ready)
                if clicked is not None:
                    clicks.append(clicked)
            results[size] = {"build": built, "ready": statistics.median(readies),
                             "click": statistics.median(clicks) if clicks else None}  # fmt: skip
    baseline = results[0]["ready"] or 1e-9
    print(
        "| nodes | edges | page size | build (Python) | ready in Chromium | ready / empty page "
        "| click → path highlighted |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        _, built, edge_count, html_size = pages[size]
        r = results[size]
        print(f"| {size:,} | {edge_count:,} | {html_size / 1e6:.1f} MB | {built:.2f} s | {r['ready']:.2f} s | "
              f"{r['ready'] / baseline:.1f}x | {r['click']:.2f} s |")  # fmt: skip
    print(f"\nempty page (vis-network parsed, no node): ready in {baseline:.2f} s")


if __name__ == "__main__":
    main()
