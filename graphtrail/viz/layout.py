"""Positions for the page's nodes, computed here so the browser draws at once and nothing moves afterwards.

A layered drawing that reads left to right in the order things happened: an address and the key used from it
stand left of the identity the key acts as, which stands left of what it created or touched, which stands left
of what that was used for. Each connected part is laid out on its own and the parts are stacked, largest first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence

import networkx as nx

from graphtrail.schema import FROM_IP, SESSION_OF

X_GAP = 300.0  # between layers
Y_GAP = 95.0  # between nodes of a layer
COLUMN_HEIGHT = 24  # a layer taller than this is folded into several columns
PART_GAP = 2.0  # extra rows between stacked parts

# Drawn from the second node to the first: the address a principal acted from, the role a session belongs to.
_REVERSED = frozenset({FROM_IP, SESSION_OF})


def assign_bands(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str, str]],
    bands: Sequence[Collection[str]],
    first_seen: dict[str, str],
) -> dict[str, int]:
    """Each node's band: the first band that names it, else the band most of its banded neighbours are in
    (nearest first). Nodes joined to no band are left out."""
    band_of: dict[str, int] = {}
    for i, band in enumerate(bands):
        for node in band:
            band_of.setdefault(node, i)
    _attach(_flow(nodes, edges), band_of, first_seen)
    return band_of


def _flow(nodes: Sequence[str], edges: Iterable[tuple[str, str, str]]) -> nx.DiGraph:
    flow = nx.DiGraph()
    flow.add_nodes_from(nodes)
    for src, dst, kind in edges:
        if src != dst:
            flow.add_edge(*((dst, src) if kind in _REVERSED else (src, dst)))
    return flow


def layout_positions(
    nodes: Sequence[str],
    edges: Iterable[tuple[str, str, str]],
    first_seen: dict[str, str],
    band_of: dict[str, int] | None = None,
) -> dict[str, tuple[float, float]]:
    """x, y for every node: layers left to right along the edges (cycles share a layer).

    Each band (see `assign_bands`: e.g. an incident's path and what hangs off it) is laid out on its own, in
    band order; the nodes in no band are laid out by connected part after them. The parts are then packed in
    rows to a screen-like shape.
    """
    band_of = band_of or {}
    flow = _flow(nodes, edges)
    groups: dict[int, set[str]] = defaultdict(set)
    for node, band in band_of.items():
        if node in flow:
            groups[band].add(node)
    rest = flow.subgraph(n for n in flow if n not in band_of)
    parts = [groups[band] for band in sorted(groups)] + sorted(
        nx.weakly_connected_components(rest), key=lambda p: (-len(p), min(p))
    )
    placed_parts: list[dict[str, tuple[float, float]]] = []
    loose = []
    for part in parts:
        subgraph = flow.subgraph(part)
        if len(part) == 1 and not subgraph.number_of_edges():
            loose.extend(part)
            continue
        placed_parts.append(_layered(subgraph, first_seen)[0])
    if loose:
        per_row = max(4, int(len(loose) ** 0.5))
        ordered = sorted(loose, key=lambda n: (first_seen.get(n) or "", n))
        placed_parts.append({n: ((i % per_row) * X_GAP, (i // per_row) * Y_GAP) for i, n in enumerate(ordered)})
    return _pack(placed_parts)


def _pack(parts: list[dict[str, tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """Parts in rows, in order, wrapped to a screen-like shape (wider than tall) instead of one tall stack."""
    boxes = []
    for part in parts:
        xs = [x for x, _ in part.values()]
        ys = [y for _, y in part.values()]
        boxes.append((min(xs), min(ys), max(xs) - min(xs) + X_GAP, max(ys) - min(ys) + Y_GAP * (1 + PART_GAP)))
    area = sum(w * h for _, _, w, h in boxes)
    row_width = max([w for _, _, w, _ in boxes] + [(area * 1.6) ** 0.5])
    positions: dict[str, tuple[float, float]] = {}
    x = y = row_height = 0.0
    for part, (left, top, width, height) in zip(parts, boxes, strict=True):
        if x > 0 and x + width > row_width:
            x, y, row_height = 0.0, y + row_height, 0.0
        for node, (px, py) in part.items():
            positions[node] = (x + px - left, y + py - top)
        x += width
        row_height = max(row_height, height)
    return positions


def _attach(flow: nx.DiGraph, band_of: dict[str, int], first_seen: dict[str, str]) -> None:
    """Give each node outside the bands the band most of its banded neighbours are in, nearest first."""
    while True:
        votes: dict[str, Counter[int]] = defaultdict(Counter)
        for node, band in band_of.items():
            if node in flow:
                for neighbour in (*flow.successors(node), *flow.predecessors(node)):
                    if neighbour not in band_of:
                        votes[neighbour][band] += 1
        if not votes:
            return
        for node, counted in votes.items():
            band_of[node] = min(counted, key=lambda band: (-counted[band], band))


def _layered(flow: nx.DiGraph, first_seen: dict[str, str]) -> tuple[dict[str, tuple[float, float]], int]:
    levels = _levels(flow, first_seen)
    by_level: dict[int, list[str]] = defaultdict(list)
    for node, level in levels.items():
        by_level[level].append(node)
    rank: dict[str, float] = {}
    for level in sorted(by_level):  # barycentre of what points in, then time, then key
        members = by_level[level]
        members.sort(key=lambda n: (_barycentre(flow.predecessors(n), rank), first_seen.get(n) or "", n))
        for i, node in enumerate(members):
            rank[node] = i - (len(members) - 1) / 2
    for level in sorted(by_level, reverse=True):  # then pull sources towards what they point at
        members = by_level[level]
        members.sort(key=lambda n: (_barycentre(flow.successors(n), rank, rank[n]), first_seen.get(n) or "", n))
        for i, node in enumerate(members):
            rank[node] = i - (len(members) - 1) / 2
    positions: dict[str, tuple[float, float]] = {}
    x = 0.0
    height = 0
    for level in sorted(by_level):
        members = by_level[level]
        columns = -(-len(members) // COLUMN_HEIGHT)
        rows = -(-len(members) // columns)
        height = max(height, rows)
        for i, node in enumerate(members):
            column, row = divmod(i, rows)
            positions[node] = (x + column * X_GAP * 0.55, (row - (rows - 1) / 2) * Y_GAP)
        x += X_GAP * (1 + 0.55 * (columns - 1))
    shift = (height - 1) / 2 * Y_GAP
    return {node: (px, py + shift) for node, (px, py) in positions.items()}, height


def _levels(flow: nx.DiGraph, first_seen: dict[str, str]) -> dict[str, int]:
    """Longest-path layers; a pure source sits just left of its nearest successor instead of at the far left.

    A cycle (EC2 issues a session, the session calls EC2) is cut where it runs back in time: inside it only
    edges from the earlier-seen node to the later one set the layers, so the loop still reads left to right.
    """
    order = {node: (first_seen.get(node) or "", node) for node in flow}
    forward = nx.DiGraph(flow)
    for part in nx.strongly_connected_components(flow):
        if len(part) > 1:
            forward.remove_edges_from([(u, v) for u, v in flow.subgraph(part).edges if order[u] > order[v]])
    dag = nx.condensation(forward)
    member = dag.graph["mapping"]
    level: dict[int, int] = {}
    for part in nx.topological_sort(dag):
        level[part] = max((level[p] + 1 for p in dag.predecessors(part)), default=0)
    for part in sorted(dag, key=lambda p: -level[p]):
        successors = [level[s] for s in dag.successors(part)]
        if not any(True for _ in dag.predecessors(part)) and successors:
            level[part] = max(0, min(successors) - 1)
    return {node: level[member[node]] for node in forward}


def _barycentre(neighbours: Iterable[str], rank: dict[str, float], default: float = 0.0) -> float:
    values = [rank[n] for n in neighbours if n in rank]
    return sum(values) / len(values) if values else default
