"""Choose what a page draws: never the whole graph, only the incidents (or the chosen focus) and their context.

Nodes are taken in tiers, most telling first: the endpoints of attack-path edges, then the keys, addresses and
identities the findings name, then each one's lineage (who minted a key, whom it acts as, which role a session
belongs to). Around a node, tiers are hop distances. Past `max_nodes` the rest is counted, by kind, and left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from graphtrail.case import Case, EventRow
from graphtrail.errors import InputError
from graphtrail.findings import Finding, Hop, Severity
from graphtrail.hunts import HuntReport
from graphtrail.incidents import Incident
from graphtrail.schema import AUTHENTICATES, IN_ACCOUNT, MINTED, SESSION_OF
from graphtrail.viz.evidence import edge_target, read_events
from graphtrail.viz.focus import ViewFocus

EdgeKey = tuple[str, str, str]  # (src, dst, type): the graph's edge key

DEFAULT_MAX_NODES = 1500
_HUBS = frozenset({"Account", "Service"})  # reached, but not walked through: they join everything to everything


@dataclass(frozen=True, slots=True)
class ScopedIncident:
    number: int  # 1-based, in the hunt report's order (worst first)
    incident: Incident


@dataclass(frozen=True, slots=True)
class ScopedFinding:
    finding: Finding
    edges: tuple[EdgeKey, ...]  # its path's edges, in hop order, each once
    incident: int | None  # number of the incident it belongs to


@dataclass
class Scope:
    focus: ViewFocus
    nodes: list[str]
    edges: list[EdgeKey]
    incidents: list[ScopedIncident]
    findings: list[ScopedFinding]
    path_order: dict[EdgeKey, int]  # attack-path edge -> its step number in its incident
    entry_nodes: set[str]
    omitted: dict[str, int]  # kind -> nodes left out over the cap
    max_nodes: int
    hop_edges: dict[EdgeKey, dict[str, Any]] = field(default_factory=dict)  # path hops with no graph edge
    bands: list[set[str]] = field(default_factory=list)  # per incident, its path's nodes: drawn one under another

    @property
    def omitted_count(self) -> int:
        return sum(self.omitted.values())

    def hint(self) -> str | None:
        """What was left out and how to narrow the view, or None when everything fits."""
        if not self.omitted:
            return None
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.omitted.items(), key=lambda kv: -kv[1]))
        return (
            f"{self.omitted_count} nodes left out over the cap of {self.max_nodes} ({kinds}). "
            "Narrow the view with --incident N, --finding ID or --around NODE --hops K, or raise --max-nodes."
        )


def select_scope(
    graph: nx.MultiDiGraph,
    case: Case,
    report: HuntReport,
    focus: ViewFocus | None = None,
    *,
    max_nodes: int = DEFAULT_MAX_NODES,
    min_severity: Severity = Severity.LOW,
) -> Scope:
    """What to draw for `focus` (default: every incident at or above `min_severity`), at most `max_nodes`."""
    focus = focus or ViewFocus()
    numbered = {id(incident): n for n, incident in enumerate(report.incidents, 1)}
    if focus.around is not None and focus.around not in graph:
        raise InputError(f"no node {focus.around!r} in the case (try a key id, an ARN or an IP address)")
    incidents, findings = _focused(report, focus, min_severity)
    hop_edges: dict[EdgeKey, dict[str, Any]] = {}
    candidates = report.findings if focus.around is not None else findings
    events = read_events(case, (e for f in candidates for hop in f.path for e in hop.event_ids))
    resolver = _HopResolver(graph, events, hop_edges)
    paths = {f.id: tuple(dict.fromkeys(e for hop in f.path for e in resolver.edges(hop))) for f in candidates}

    if focus.around is not None:
        tiers = _around(graph, focus.around, focus.hops)
    else:
        tiers = _incident_tiers(graph, findings, {e for edges in paths.values() for e in edges})
    ordered = list(dict.fromkeys(node for tier in tiers for node in sorted(tier, key=lambda n: _order(graph, n))))
    kept_nodes = ordered[:max_nodes]
    kept = set(kept_nodes)
    omitted = Counter(graph.nodes[n].get("kind", "Unknown") for n in ordered[max_nodes:])

    edges = [
        (u, v, k) for u in kept_nodes for _, v, k in graph.out_edges(u, keys=True) if v in kept and k != IN_ACCOUNT
    ]
    drawn_hops = {edge: attrs for edge, attrs in hop_edges.items() if edge[0] in kept and edge[1] in kept}
    edges += list(drawn_hops)
    drawn = set(edges)
    if focus.around is not None:  # the findings this neighbourhood takes part in, and their incidents
        findings = [f for f in report.findings if any(edge in drawn for edge in paths[f.id])]
        incidents = [i for i in report.incidents if any(f in i.findings for f in findings)]

    hubs = {n for n in kept if graph.nodes[n].get("kind") in _HUBS}  # placed by the layout, not by an incident
    path_order: dict[EdgeKey, int] = {}
    entry_nodes: set[str] = set()
    # Steps are numbered along each incident's timeline, or along the finding's own path when one is chosen.
    timelines = [findings[0].path] if focus.finding is not None else [i.timeline for i in incidents]
    for timeline in timelines:
        step = 0
        for hop in timeline:
            for edge in resolver.edges(hop):
                if edge in drawn and edge not in path_order:
                    step += 1
                    path_order[edge] = step
    for incident in incidents:
        if incident.entry is not None:
            entry = incident.entry
            # The credential the attacker came in with marks the entry; the principal when no key is known.
            marked = next((n for n in (entry.access_key, entry.src) if n in kept), None)
            if marked is not None:
                entry_nodes.add(marked)
    return Scope(
        focus=focus,
        nodes=kept_nodes,
        edges=edges,
        incidents=[ScopedIncident(numbered[id(i)], i) for i in incidents],
        findings=[ScopedFinding(f, paths[f.id], _incident_of(f, report)) for f in findings],
        path_order=path_order,
        entry_nodes=entry_nodes,
        omitted=dict(omitted),
        max_nodes=max_nodes,
        hop_edges=drawn_hops,
        bands=[
            {n for f in i.findings if f.id in paths for e in paths[f.id] if e in drawn for n in e[:2]} - hubs
            for i in incidents
        ],
    )


def _focused(report: HuntReport, focus: ViewFocus, least: Severity) -> tuple[list[Incident], list[Finding]]:
    """The incidents and findings the focus names (none for a neighbourhood: found later from what is drawn)."""
    if focus.finding is not None:
        finding = next((f for f in report.findings if f.id == focus.finding), None)
        if finding is None:
            raise InputError(f"no finding {focus.finding} in this case (`graphtrail hunt` lists them)")
        return [i for i in report.incidents if finding in i.findings], [finding]
    if focus.incident is not None:
        incident = _find_incident(report, focus.incident)
        return [incident], list(incident.findings)
    if focus.around is not None:
        return [], []
    incidents = [i for i in report.incidents if i.severity >= least]
    return incidents, [f for i in incidents for f in i.findings]


def _find_incident(report: HuntReport, wanted: int | str) -> Incident:
    count = len(report.incidents)
    text = str(wanted).strip()
    if text.isdigit():
        number = int(text)
        if 1 <= number <= count:
            return report.incidents[number - 1]
        raise InputError(f"no incident {number}: this case has {count} (numbered 1 to {count}, worst first)")
    incident = next((i for i in report.incidents if i.id == text), None)
    if incident is None:
        raise InputError(f"no incident {text} in this case (`graphtrail hunt` lists them)")
    return incident


def _incident_of(finding: Finding, report: HuntReport) -> int | None:
    return next((n for n, i in enumerate(report.incidents, 1) if finding in i.findings), None)


class _HopResolver:
    """A hop's graph edges: the action edge of each of its events (actor, action, target)."""

    def __init__(self, graph: nx.MultiDiGraph, events: dict[str, EventRow], extra: dict[EdgeKey, dict[str, Any]]):
        self.graph = graph
        self.events = events
        self.extra = extra
        self._cache: dict[tuple[str, str, str, tuple[str, ...]], list[EdgeKey]] = {}

    def edges(self, hop: Hop) -> list[EdgeKey]:
        key = (hop.src, hop.action, hop.dst, hop.event_ids)
        if key not in self._cache:
            self._cache[key] = self._resolve(hop)
        return self._cache[key]

    def _resolve(self, hop: Hop) -> list[EdgeKey]:
        found: dict[EdgeKey, None] = {}
        for event_id in hop.event_ids:
            row = self.events.get(event_id)
            if row is not None and self.graph.has_edge(row.actor, edge_target(row), key=row.name):
                found[(row.actor, edge_target(row), row.name)] = None
        if found:
            return list(found)
        action = hop.action.split(" ")[0]
        if self.graph.has_edge(hop.src, hop.dst, key=action):
            return [(hop.src, hop.dst, action)]
        if hop.src in self.graph and hop.dst in self.graph:  # a hop the graph holds no edge for: draw it anyway
            edge = (hop.src, hop.dst, hop.action)
            attrs = self.extra.setdefault(
                edge, {"type": hop.action, "count": 0, "error_count": 0, "first_seen": hop.time, "last_seen": hop.time,
                       "source_ips": [], "access_keys": [], "user_agents": [], "event_ids": []},
            )  # fmt: skip
            attrs["count"] += len(hop.event_ids)
            attrs["event_ids"] = sorted(set(attrs["event_ids"]) | set(hop.event_ids))[:20]
            attrs["source_ips"] = sorted(set(attrs["source_ips"]) | ({hop.source_ip} - {None}))
            attrs["access_keys"] = sorted(set(attrs["access_keys"]) | ({hop.access_key} - {None}))
            attrs["first_seen"] = min(attrs["first_seen"], hop.time)
            attrs["last_seen"] = max(attrs["last_seen"], hop.time)
            return [edge]
        return []


def _incident_tiers(graph: nx.MultiDiGraph, findings: list[Finding], path_edges: set[EdgeKey]) -> list[set[str]]:
    path_nodes = {n for edge in path_edges for n in edge[:2]}
    named: set[str] = set()
    for finding in findings:
        named |= finding.keys | finding.ips | finding.principals | finding.resources
        for hop in finding.path:
            named |= {n for n in (hop.src, hop.dst, hop.access_key, hop.source_ip) if n}
    named = {n for n in named if n in graph} - path_nodes
    lineage: set[str] = set()
    for node in path_nodes | named:
        lineage |= set(_lineage_neighbours(graph, node))
    return [path_nodes, named, lineage - path_nodes - named]


def _lineage_neighbours(graph: nx.MultiDiGraph, node: str) -> Iterable[str]:
    """Who minted a key and whom it acts as; the role a session belongs to."""
    kind = graph.nodes[node].get("kind")
    if kind == "AccessKey":
        yield from (u for u, _, k in graph.in_edges(node, keys=True) if k == MINTED)
        yield from (v for _, v, k in graph.out_edges(node, keys=True) if k == AUTHENTICATES)
    elif kind == "Session":
        yield from (v for _, v, k in graph.out_edges(node, keys=True) if k == SESSION_OF)


def _around(graph: nx.MultiDiGraph, center: str, hops: int) -> list[set[str]]:
    """Nodes by hop distance from `center`, either direction, not through accounts or services."""
    tiers = [{center}]
    seen = {center}
    frontier = [center]
    for _ in range(hops):
        found: set[str] = set()
        for node in frontier:
            if node != center and graph.nodes[node].get("kind") in _HUBS:
                continue
            for _, v, k in graph.out_edges(node, keys=True):
                if k != IN_ACCOUNT and v not in seen:
                    found.add(v)
            for u, _, k in graph.in_edges(node, keys=True):
                if k != IN_ACCOUNT and u not in seen:
                    found.add(u)
        if not found:
            break
        seen |= found
        tiers.append(found)
        frontier = sorted(found)
    return tiers


def _order(graph: nx.MultiDiGraph, node: str) -> tuple[str, str]:
    return (graph.nodes[node].get("first_seen") or "", node)
