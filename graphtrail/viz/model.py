"""The data a page carries: the scoped nodes and edges as vis-network items, the incidents and findings for the
side panel, and the evidence events. Plain JSON-ready dicts; `page.py` turns them into HTML.

Every string here may come from a log and is hostile; nothing in this module escapes, because the page only
ever puts these values into the DOM as text (textContent), never as markup.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from typing import Any

import networkx as nx

from graphtrail.case import Case, EventRow
from graphtrail.findings import Finding, Hop
from graphtrail.incidents import Incident
from graphtrail.schema import is_structural
from graphtrail.viz.evidence import EvidenceEvent, read_events
from graphtrail.viz.layout import assign_bands, layout_positions
from graphtrail.viz.scope import EdgeKey, Scope
from graphtrail.viz.style import (
    EDGE_COLOR,
    ENTRY_COLOR,
    KIND_STYLES,
    OUTSIDE_IP,
    PATH_COLOR,
    STRUCTURAL_COLOR,
    STRUCTURAL_LABELS,
    kind_style,
)

DIM_LIMIT = 1500  # nodes + edges up to which a highlight dims everything else (see view.js)
EVIDENCE_PER_NODE = 12
EVIDENCE_TOTAL = 6000
_LIST_CAP = 10  # values of one list property carried into the page
_DICT_CAP = 40  # entries of one mapping (a node's properties, an edge's facts)
_TEXT_CAP = 300  # characters of one value
_LABEL_CAP = 34
_COPIED = frozenset({"Service"})  # drawn once per incident (see _DrawnIds)
_SECRET_WORDS = ("sessiontoken", "secretaccesskey", "password")
_SKIPPED_PROPS = frozenset({"kind", "name", "first_seen", "last_seen", "account"})


def build_model(graph: nx.MultiDiGraph, case: Case, scope: Scope) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    first_seen = {n: graph.nodes[n].get("first_seen") or "" for n in scope.nodes}
    band_of = assign_bands(scope.nodes, scope.edges, scope.bands, first_seen)
    drawn = _DrawnIds(graph, scope, band_of)
    drawn_edges = [(drawn.end(u, v), drawn.end(v, u), k) for u, v, k in scope.edges]
    positions = layout_positions(drawn.nodes, drawn_edges, {d: first_seen[k] for d, k in drawn.key.items()}, drawn.band)
    edge_ids = {edge: f"e{i}" for i, edge in enumerate(scope.edges)}
    evidence_ids, events = _evidence(graph, case, scope)
    shown_events = sorted({e for ids in evidence_ids.values() for e in ids if e in events})
    parallel: Counter[tuple[str, str]] = Counter()
    edges = []
    for edge, (src, dst, _) in zip(scope.edges, drawn_edges, strict=True):
        pair = (min(src, dst), max(src, dst))
        edges.append({**_edge(graph, scope, edge, edge_ids[edge], parallel[pair]), "from": src, "to": dst})
        parallel[pair] += 1
    nodes = [
        {**_node(graph, drawn.key[d], positions[d], drawn.key[d] in scope.entry_nodes, evidence_ids[drawn.key[d]]),
         "id": d, "copy": d != drawn.key[d]}
        for d in drawn.nodes
    ]  # fmt: skip
    kinds = sorted({graph.nodes[n].get("kind", "Unknown") for n in scope.nodes})
    times = sorted(t for e in edges for t in (e["first"], e["last"]) if t)
    return {
        "focus": scope.focus.describe(),
        "hint": scope.hint(),
        "omitted": scope.omitted,
        "nodes": nodes,
        "edges": edges,
        "incidents": [_incident(si.number, si.incident) for si in scope.incidents],
        "findings": [
            {**_finding(sf.finding), "incident": sf.incident, "edges": [edge_ids[e] for e in sf.edges if e in edge_ids]}
            for sf in scope.findings
        ],
        "events": {e: EvidenceEvent.from_row(events[e]).as_dict() for e in shown_events},
        "legend": [
            {"kind": kind, "shape": style.shape, "color": style.color, "border": style.border, "meaning": style.meaning}
            for kind, style in KIND_STYLES.items()
            if kind in kinds
        ]
        + ([_legend_entry("IP", OUTSIDE_IP)] if any(n.get("outside") for n in nodes) else []),
        "colors": {"edge": EDGE_COLOR, "structural": STRUCTURAL_COLOR, "path": PATH_COLOR, "entry": ENTRY_COLOR},
        "time": {"first": times[0] if times else None, "last": times[-1] if times else None},
        "dim_limit": DIM_LIMIT,
    }


class _DrawnIds:
    """A service node (sts, s3, iam…) that several incidents call is drawn once per incident, beside each: one
    shared node would tie every incident to every other with long lines. Copies get an id of their own (the
    key, a NUL, the band); every other node is drawn once under its key."""

    def __init__(self, graph: nx.MultiDiGraph, scope: Scope, band_of: dict[str, int]) -> None:
        self.band_of = band_of
        bands: dict[str, set[int]] = defaultdict(set)
        for u, v, _ in scope.edges:
            for hub, other in ((u, v), (v, u)):
                if graph.nodes[hub].get("kind") in _COPIED and hub in band_of:
                    bands[hub].add(band_of.get(other, band_of[hub]))
        self.copies = {hub: found for hub, found in bands.items() if len(found) > 1}
        self.key: dict[str, str] = {}
        self.band: dict[str, int] = {}
        self.nodes: list[str] = []
        for node in scope.nodes:
            for band in sorted(self.copies.get(node, {band_of.get(node, -1)})):
                drawn = self.copy_id(node, band)
                self.nodes.append(drawn)
                self.key[drawn] = node
                if band >= 0:
                    self.band[drawn] = band

    def copy_id(self, node: str, band: int) -> str:
        return node if node not in self.copies or band == self.band_of[node] else f"{node}\x00{band}"

    def end(self, node: str, other: str) -> str:
        """The drawn id of `node` at the end of an edge whose other end is `other`."""
        if node not in self.copies:
            return node
        return self.copy_id(node, self.band_of.get(other, self.band_of[node]))


def _legend_entry(kind: str, style: Any) -> dict[str, str]:
    return {"kind": kind, "shape": style.shape, "color": style.color, "border": style.border, "meaning": style.meaning}


def _node(
    graph: nx.MultiDiGraph, key: str, position: tuple[float, float], entry: bool, evidence: list[str]
) -> dict[str, Any]:
    attrs = graph.nodes[key]
    kind = attrs.get("kind", "Unknown")
    outside = kind == "IP" and not attrs.get("is_aws") and _is_public(key)
    style = OUTSIDE_IP if outside else kind_style(kind)
    return {
        "id": key,
        "key": key,
        "label": _label(kind, key, attrs),
        "kind": kind,
        "shape": style.shape,
        "color": style.color,
        "border": style.border,
        "x": round(position[0], 1),
        "y": round(position[1], 1),
        "entry": entry,
        "outside": outside,
        "account": attrs.get("account"),
        "first": attrs.get("first_seen"),
        "last": attrs.get("last_seen"),
        "props": _bounded({name: value for name, value in sorted(attrs.items()) if name not in _SKIPPED_PROPS}),
        "evidence": evidence,
    }


def _label(kind: str, key: str, attrs: dict[str, Any]) -> str:
    name = str(attrs.get("name") or key)
    if kind == "Session" and attrs.get("role"):
        name = f"{str(attrs['role']).rsplit('/', 1)[-1]}/{attrs.get('session_name') or name}"
    if len(name) > _LABEL_CAP:
        name = name[: _LABEL_CAP - 1] + "…"
    return name


def _edge(graph: nx.MultiDiGraph, scope: Scope, edge: EdgeKey, edge_id: str, parallel: int) -> dict[str, Any]:
    src, dst, kind = edge
    attrs = scope.hop_edges.get(edge) or graph.edges[src, dst, kind]
    structural = is_structural(kind)
    count = int(attrs.get("count") or 0)
    errors = int(attrs.get("error_count") or 0)
    if structural:
        label = STRUCTURAL_LABELS.get(kind, kind.lower())
    else:
        label = kind if count <= 1 else f"{kind} ×{count}"
        if 0 < errors < count:
            label += f" ({errors} failed)"
    step = scope.path_order.get(edge)
    return {
        "id": edge_id,
        "from": src,
        "to": dst,
        "src": src,
        "dst": dst,
        "type": kind,
        "label": label if step is None else f"{step}. {label}",
        "step": step,
        "structural": structural,
        "traversable": bool(attrs.get("traversable")),
        "failed": count > 0 and errors >= count,
        "count": count,
        "errors": errors,
        "error_codes": _bounded(attrs.get("errors") or {}),
        "first": attrs.get("first_seen"),
        "last": attrs.get("last_seen"),
        "ips": _bounded(attrs.get("source_ips") or []),
        "agents": _bounded(attrs.get("user_agents") or []),
        "keys": _bounded(attrs.get("access_keys") or []),
        "event_ids": _bounded(attrs.get("event_ids") or []),
        "facts": _bounded(attrs.get("facts") or {}),
        "parallel": parallel,
    }


# Where a node's own events are found through an index of the events table; other kinds use edge samples.
_EVIDENCE_QUERIES = {"IP": "source_ip = ?", "AccessKey": "access_key = ?"}
_ACTOR_KINDS = frozenset({"Root", "User", "Session", "FederatedUser", "ExternalIdentity", "Unknown"})


def _evidence(graph: nx.MultiDiGraph, case: Case, scope: Scope) -> tuple[dict[str, list[str]], dict[str, EventRow]]:
    """Up to EVIDENCE_PER_NODE event ids per node: its attack-path edges' events first, then its own earliest
    events (calls from an address, signed by a key, made by a principal), then its other edges' samples."""
    touching: dict[str, list[EdgeKey]] = defaultdict(list)
    for edge in scope.edges:
        touching[edge[0]].append(edge)
        if edge[1] != edge[0]:
            touching[edge[1]].append(edge)
    chosen: dict[str, list[str]] = {}
    rows: dict[str, EventRow] = {}
    budget = EVIDENCE_TOTAL
    ordered = sorted(scope.nodes, key=lambda n: not any(e in scope.path_order for e in touching[n]))
    for node in ordered:
        cap = max(0, min(EVIDENCE_PER_NODE, budget))
        ids: dict[str, None] = {}
        edges = sorted(touching[node], key=lambda e: (e not in scope.path_order, scope.path_order.get(e, 0)))
        on_path = [e for e in edges if e in scope.path_order]
        _add_samples(ids, graph, scope, on_path, cap)
        kind = graph.nodes[node].get("kind")
        where = _EVIDENCE_QUERIES.get(kind) or ("actor = ?" if kind in _ACTOR_KINDS else None)
        if where and len(ids) < cap:
            for row in case.events(where, (node,), limit=cap):
                rows[row.event_id] = row
                if len(ids) < cap:
                    ids[row.event_id] = None
        _add_samples(ids, graph, scope, [e for e in edges if e not in scope.path_order], cap)
        budget -= len(ids)
        chosen[node] = list(ids)
    missing = {e for ids in chosen.values() for e in ids} - set(rows)
    rows.update(read_events(case, missing))
    return chosen, rows


def _add_samples(ids: dict[str, None], graph: nx.MultiDiGraph, scope: Scope, edges: list[EdgeKey], cap: int) -> None:
    for edge in edges:
        attrs = scope.hop_edges.get(edge) or graph.edges[edge]
        for event_id in attrs.get("event_ids") or ():
            if len(ids) >= cap:
                return
            ids[event_id] = None


def _incident(number: int, incident: Incident) -> dict[str, Any]:
    data = incident.as_dict()
    return {
        "number": number,
        "id": data["id"],
        "severity": data["severity"],
        "first": data["first_seen"],
        "last": data["last_seen"],
        "entry": data["entry_point"],
        "findings": data["findings"],
        "categories": data["categories"],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "title": finding.title,
        "severity": str(finding.severity),
        "category": finding.category,
        "hunt": finding.hunt,
        "confidence": round(finding.confidence, 2),
        "attack": sorted({i for technique in finding.techniques for i in technique.ids()}),
        "first": finding.first_seen,
        "last": finding.last_seen,
        "narrative": finding.narrative,
        "hops": [_hop(hop) for hop in finding.path],
    }


def _hop(hop: Hop) -> dict[str, Any]:
    return {"time": hop.time, "src": hop.src, "action": hop.action, "dst": hop.dst, "key": hop.access_key,
            "ip": hop.source_ip, "events": list(hop.event_ids[:5]), "event_count": len(hop.event_ids)}  # fmt: skip


def _bounded(value: Any) -> Any:
    """Lists cut to a few values and long text shortened: the page shows samples, the case holds the rest."""
    if isinstance(value, str):
        return value if len(value) <= _TEXT_CAP else value[:_TEXT_CAP] + "…"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        bounded = [_bounded(v) for v in items[:_LIST_CAP]]
        if len(items) > _LIST_CAP:
            bounded.append(f"… {len(items) - _LIST_CAP} more")
        return bounded
    if isinstance(value, dict):
        kept = [(str(k), v) for k, v in value.items() if not _secret(str(k))]
        return {k: _bounded(v) for k, v in kept[:_DICT_CAP]}
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _bounded(str(value))


def _secret(name: str) -> bool:
    """Ingest already strips session tokens; a field named like a secret is still never carried into a page."""
    folded = name.lower().replace("_", "")
    return any(word in folded for word in _SECRET_WORDS)


def _is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False
