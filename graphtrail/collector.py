"""Python's cyclic garbage collector, told to run less often while a large graph is built.

Ingest and loading a case allocate millions of small containers that stay (nodes, edges, their aggregates, a
batch's rows) and make almost no reference cycles. At Python's default thresholds (700, 10, 10) the collector
walks the young objects every 700 allocations and, as the graph grows, the whole graph again and again: on a
1M-event case of 50 accounts it took about a fifth of ingest's main process, and a third of loading the graph
and of turning it into rows for Neo4j (benchmarks/README.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The collector at THRESHOLDS inside (processes forked there inherit them), as it was after."""
    previous = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
