"""Graph questions a responder asks once a credential is known to be bad.

- `find_paths`: how X led to Y: time-respecting paths (each hop no earlier than the one before) over the
  edges that hand over control, shortest first, each hop backed by the first event that makes it.
- `blast_radius`: everything a compromised key (or principal) reached after a time: the keys it minted or
  created, the identities it created or took over, the roles it reached, the resources it read or changed.
- `timeline`: the events of an entity and of every credential that descends from it, in order.

Aggregated edges say *whether* u touched v; the events table says *when*, so every hop is re-anchored on an
event at or after the time the path reached u.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import orjson

from graphtrail.case import Case, EventRow
from graphtrail.cloudtrail.timeparse import format_time, parse_time
from graphtrail.errors import InputError
from graphtrail.findings import Hop
from graphtrail.lineage import KeyLineage
from graphtrail.schema import AUTHENTICATES, MINTED

MAX_HOPS = 8
ANCHOR_BUDGET = 20_000  # event look-ups one search may make: bounds the time a hub (a service minting
# thousands of keys) can cost; a search that runs out returns what it found and says so
CREDENTIAL_ACTIONS = frozenset({"CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "CreateUser"})


@dataclass(frozen=True)
class TimedPath:
    hops: list[Hop]

    @property
    def start(self) -> str:
        return self.hops[0].time

    @property
    def end(self) -> str:
        return self.hops[-1].time

    def as_dict(self) -> dict[str, Any]:
        return {"hops": [hop.as_dict() for hop in self.hops], "start": self.start, "end": self.end}


class PathFinder:
    """Time-respecting path search over one case's graph."""

    def __init__(self, case: Case, graph: nx.MultiDiGraph, *, all_edges: bool = False) -> None:
        self.case = case
        self.graph = graph
        self.all_edges = all_edges
        self.lineage = case.lineage()
        self.budget = ANCHOR_BUDGET
        self.truncated = False

    def _usable(self, data: dict[str, Any]) -> bool:
        return self.all_edges or bool(data.get("traversable"))

    def find(
        self, source: str, target: str, *, since: str | None = None, within: float | None = None, limit: int = 5
    ) -> list[TimedPath]:
        """Up to `limit` paths from `source` to `target`, fewest hops first, then earliest."""
        for node in (source, target):
            if node not in self.graph:
                raise InputError(f"{node!r} is not a node of the case")
        distance = self._distances_to(target)
        if source not in distance:
            return []
        found: list[TimedPath] = []
        for hops in range(distance[source], MAX_HOPS + 1):
            layer = [
                path
                for path in self._walk(source, target, hops, since or "", distance, [source])
                if within is None or (parse_time(path.end) - parse_time(path.start)).total_seconds() <= within
            ]
            found.extend(sorted(layer, key=lambda path: (path.end, path.start)))
            if len(found) >= limit:
                break
        return found[:limit]

    def _distances_to(self, target: str) -> dict[str, int]:
        """Hops from every node to `target` over usable edges, ignoring time (prunes the search)."""
        distance = {target: 0}
        queue = deque([target])
        while queue:
            node = queue.popleft()
            for before, _, data in self.graph.in_edges(node, data=True):
                if before not in distance and self._usable(data):
                    distance[before] = distance[node] + 1
                    queue.append(before)
        return distance

    def _walk(
        self,
        node: str,
        target: str,
        hops_left: int,
        after: str,
        distance: dict[str, int],
        visited: list[str],
        via_key: str | None = None,
    ) -> Iterator[TimedPath]:
        """Paths of exactly `hops_left` hops. `via_key`: the key that authenticated `node` on this path, so
        the principal's next call must be one that key signed (a path never swaps credentials silently)."""
        if hops_left == 0:
            return
        for _, nxt, edge_type, data in sorted(self.graph.out_edges(node, keys=True, data=True)):
            if nxt in visited or not self._usable(data) or distance.get(nxt, MAX_HOPS + 1) > hops_left - 1:
                continue
            if data.get("last_seen") and data["last_seen"] < after:
                continue
            if edge_type == AUTHENTICATES and nxt != target:
                # The key's hop is the call it signs next: anchored on the following hop's event.
                for rest in self._walk(nxt, target, hops_left - 1, after, distance, [*visited, nxt], via_key=node):
                    first = rest.hops[0]
                    yield TimedPath(
                        [Hop(node, AUTHENTICATES, nxt, first.time, first.event_ids, first.source_ip, node), *rest.hops]
                    )
                continue
            hop = self._anchor(node, edge_type, nxt, after, via_key)
            if hop is None:
                continue
            if nxt == target:
                if hops_left == 1:
                    yield TimedPath([hop])
                continue
            for rest in self._walk(nxt, target, hops_left - 1, hop.time, distance, [*visited, nxt]):
                yield TimedPath([hop, *rest.hops])

    def _anchor(self, src: str, edge_type: str, dst: str, after: str, via_key: str | None = None) -> Hop | None:
        """The first event at or after `after` that makes the hop src -[edge_type]-> dst (signed by `via_key`)."""
        self.budget -= 1
        if self.budget < 0:
            self.truncated = True
            return None
        if edge_type == MINTED:
            minted = self.lineage.get(dst)
            if via_key and minted and minted.issuer_key and minted.issuer_key != via_key:
                return None
            if minted and minted.time and minted.time >= after:
                return Hop(
                    src,
                    MINTED,
                    dst,
                    minted.time,
                    (minted.event_id,) if minted.event_id else (),
                    minted.source_ip,
                    minted.issuer_key,
                )
            data = self.graph.get_edge_data(src, dst, MINTED) or {}
            first = data.get("first_seen")
            return (
                Hop(src, MINTED, dst, first, tuple(data.get("event_ids", ())[:1])) if first and first >= after else None
            )
        if edge_type == AUTHENTICATES:
            row = self._first("access_key=? AND actor=? AND time>=?", (src, dst, after))
        elif via_key:
            row = self._first(
                "actor=? AND name=? AND target=? AND access_key=? AND time>=?", (src, edge_type, dst, via_key, after)
            )
        else:
            row = self._first("actor=? AND name=? AND target=? AND time>=?", (src, edge_type, dst, after))
        if row is None:
            return None
        return Hop(src, edge_type, dst, row.time, (row.event_id,), row.source_ip, row.access_key)

    def _first(self, where: str, params: tuple[Any, ...]) -> EventRow | None:
        return next(self.case.events(where, params, limit=1), None)


@dataclass
class BlastRadius:
    subject: str
    since: str
    keys: dict[str, str] = field(default_factory=dict)  # key -> first time it was reached
    principals: dict[str, str] = field(default_factory=dict)  # principal -> first time it acted for the attacker
    created: list[Hop] = field(default_factory=list)  # identities and credentials created or taken over
    roles: dict[str, str] = field(default_factory=dict)  # role ARN -> first time a reached session acted as it
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> {actions, count, first}
    events: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "since": self.since,
            "events": self.events,
            "keys": self.keys,
            "principals": self.principals,
            "roles": self.roles,
            "created": [hop.as_dict() for hop in self.created],
            "resources": {
                name: {"count": value["count"], "first": value["first"], "actions": dict(value["actions"])}
                for name, value in sorted(self.resources.items())
            },
        }


def blast_radius(case: Case, subject: str, since: str | None = None) -> BlastRadius:
    """What `subject` (an access key, or a principal ARN: all its keys) reached at or after `since`."""
    lineage = case.lineage()
    start = since or ""
    result = BlastRadius(subject, start)
    frontier: deque[tuple[str, str]] = deque((key, start) for key in _keys_of(case, subject, start))
    if not frontier:
        raise InputError(f"{subject!r} made no call in the case{' after ' + since if since else ''}")
    children = _children(lineage)
    while frontier:
        key, after = frontier.popleft()
        if key in result.keys:
            continue
        uses = list(case.events("access_key=? AND time>=?", (key, after)))
        if not uses:
            continue
        result.keys[key] = uses[0].time
        for row in uses:
            result.events += 1
            result.principals.setdefault(row.actor, row.time)
            if row.actor_kind == "Session" and row.actor not in result.roles:
                result.roles.setdefault(_role_of(case, row.actor), row.time)
            if row.target and row.target != row.source:
                entry = result.resources.setdefault(row.target, {"count": 0, "first": row.time, "actions": Counter()})
                entry["count"] += 1
                entry["actions"][row.name] += 1
            if row.name in CREDENTIAL_ACTIONS and not row.error_code and row.target:
                result.created.append(
                    Hop(row.actor, row.name, row.target, row.time, (row.event_id,), row.source_ip, row.access_key)
                )
                if row.name == "CreateAccessKey":
                    frontier.append((row.target, row.time))
        for child, minted_at in children.get(key, ()):
            frontier.append((child, minted_at or after))
    return result


def _role_of(case: Case, session: str) -> str:
    """The role (ARN with its path) a session acts as, from its node; the session ARN if unknown."""
    row = case.db.execute("SELECT props FROM nodes WHERE key=?", (session,)).fetchone()
    role = orjson.loads(row[0]).get("role") if row else None
    return role if isinstance(role, str) else session


def _keys_of(case: Case, subject: str, since: str) -> list[str]:
    if subject.startswith(("AKIA", "ASIA")):
        return [subject]
    rows = case.db.execute(
        "SELECT access_key, min(time) FROM events WHERE actor=? AND time>=? AND access_key IS NOT NULL "
        "GROUP BY access_key ORDER BY min(time)",
        (subject, since),
    )
    return [key for key, _ in rows]


def _children(lineage: dict[str, KeyLineage]) -> dict[str, list[tuple[str, str | None]]]:
    """Keys each key minted (STS issuance with that key as the caller's)."""
    children: dict[str, list[tuple[str, str | None]]] = {}
    for key, item in lineage.items():
        if item.issuer_key:
            children.setdefault(item.issuer_key, []).append((key, item.time))
    return children


def timeline(case: Case, subject: str, since: str | None = None, limit: int | None = None) -> list[EventRow]:
    """The events of `subject` and of every key that descends from it (minted or created), in time order."""
    radius = blast_radius(case, subject, since)
    keys = sorted(radius.keys)
    rows: list[EventRow] = []
    for chunk in range(0, len(keys), 500):
        part = keys[chunk : chunk + 500]
        rows.extend(case.events(f"access_key IN ({','.join('?' * len(part))}) AND time>=?", (*part, radius.since)))
    rows.sort(key=lambda row: (row.time, row.event_id))
    return rows[:limit] if limit else rows


def parse_duration(text: str) -> float:
    """'90s', '15m', '6h', '2d' (or plain seconds) as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise InputError(f"not a duration: {text!r} (use e.g. 90s, 15m, 6h, 2d)") from None


def normalize_since(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return format_time(parse_time(text))
    except ValueError:
        raise InputError(f"not a time: {text!r} (use ISO 8601, e.g. 2026-11-02T10:00:00Z)") from None
