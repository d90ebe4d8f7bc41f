"""Build the report model from a case and the hunts' findings and incidents.

Every event a finding cites is read back from the case (the stored columns, never the raw record), so the
report's attack paths and evidence timeline are the case's events, not the hunts' summaries of them.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from graphtrail import __version__
from graphtrail.case import EventRow
from graphtrail.errors import InputError
from graphtrail.findings import Finding, Severity
from graphtrail.hunts import HuntReport
from graphtrail.hunts.context import HuntContext
from graphtrail.incidents import Incident
from graphtrail.paths import BlastRadius, blast_radius
from graphtrail.report.containment import containment_steps
from graphtrail.report.model import (
    BlastRadiusSummary,
    CaseSummary,
    CreatedThing,
    EntryPoint,
    EvidenceEvent,
    FindingReport,
    IncidentReport,
    PathHop,
    ReachedResource,
    Report,
)

log = logging.getLogger(__name__)

_CHUNK = 500  # SQLite host parameters per IN (...) query


def build_report(
    context: HuntContext,
    hunts: HuntReport,
    *,
    incident: str | None = None,
    least: Severity = Severity.LOW,
    title: str = "",
) -> Report:
    """The report for the incidents of `hunts` at or above `least`, or only for `incident` (its id, or its
    number from 1 in the hunts' order, whatever its severity). `title`: what it is about (default: the case)."""
    # Finding and incident ids are hashes of every event they cite, recomputed on each access: take each once
    # (a million-event case has ~10^5 findings, most of them info).
    chosen = _choose(hunts.incidents, incident)
    below = 0
    if incident is None:
        below = sum(1 for item in chosen if item.severity < least)
        chosen = [item for item in chosen if item.severity >= least]
    ids = {id(f): f.id for item in chosen for f in item.findings} | {id(item): item.id for item in chosen}
    cited: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"incidents": set(), "findings": set()})
    for item in chosen:
        for finding in item.findings:
            for event_id in finding.event_ids:
                cited[event_id]["incidents"].add(ids[id(item)])
                cited[event_id]["findings"].add(ids[id(finding)])
    rows = _read_events(context, cited)
    missing = sorted(set(cited) - set(rows))
    if missing:
        log.warning("%d cited events are not in the case (first: %s)", len(missing), missing[0])
    numbers = {id(item): number for number, item in enumerate(hunts.incidents, 1)}
    incidents = tuple(_incident(context, item, numbers[id(item)], rows, ids) for item in chosen)
    owner = {id(finding): ids[id(item)] for item in chosen for finding in item.findings}
    findings = tuple(
        FindingReport(ids[id(f)], owner[id(f)], str(f.severity), f.title, _finding_data(f))
        for f in hunts.findings  # the hunts' order: worst first, then earliest
        if id(f) in owner
    )
    events = tuple(
        _evidence(rows[event_id], cited[event_id])
        for event_id in sorted(rows, key=lambda event_id: (rows[event_id].time, event_id))
    )
    return Report(
        generator=f"graphtrail {__version__}",
        case=_case_summary(context),
        hunts=tuple(hunts.hunts),
        scope=ids[id(chosen[0])] if incident is not None else None,
        incidents=incidents,
        findings=findings,
        events=events,
        missing_events=tuple(missing),
        least=str(least),
        below_least=below,
        title=title,
    )


def _choose(incidents: Sequence[Incident], wanted: str | None) -> list[Incident]:
    if wanted is None:
        return list(incidents)
    text = wanted.strip()
    if text.isdigit() and 1 <= int(text) <= len(incidents):
        return [incidents[int(text) - 1]]
    for item in incidents:
        if item.id.lower() == text.lower():
            return [item]
    known = ", ".join(f"{n} ({i.id})" for n, i in enumerate(incidents, 1)) or "none"
    raise InputError(f"no incident {wanted!r} in this case; incidents: {known}")


def _read_events(context: HuntContext, event_ids: Iterable[str]) -> dict[str, EventRow]:
    ids = sorted(event_ids)
    rows: dict[str, EventRow] = {}
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        for row in context.case.events(f"event_id IN ({','.join('?' * len(part))})", part):
            rows[row.event_id] = row
    return rows


def _case_summary(context: HuntContext) -> CaseSummary:
    first, last = context.span
    events = context.case.scalar("SELECT count(*) FROM events") or 0
    return CaseSummary(context.case.path.name, events, first or None, last or None, tuple(sorted(context.own_accounts)))


def _finding_data(finding: Finding) -> dict[str, Any]:
    data = finding.as_dict()
    data["techniques"] = [{"id": t.id, "name": t.name, "v19": t.v19} for t in finding.techniques]
    return data


def _evidence(row: EventRow, cited: dict[str, set[str]]) -> EvidenceEvent:
    return EvidenceEvent(
        event_id=row.event_id,
        time=row.time,
        name=row.name,
        source=row.source,
        region=row.region,
        account=row.account,
        actor=row.actor,
        actor_kind=row.actor_kind,
        access_key=row.access_key,
        source_ip=row.source_ip,
        user_agent=row.user_agent,
        target=row.target,
        error_code=row.error_code,
        incidents=tuple(sorted(cited["incidents"])),
        findings=tuple(sorted(cited["findings"])),
    )


def _incident(
    context: HuntContext, incident: Incident, number: int, rows: dict[str, EventRow], ids: dict[int, str]
) -> IncidentReport:
    incident_id = ids[id(incident)]
    own = sorted({e for f in incident.findings for e in f.event_ids if e in rows}, key=lambda e: (rows[e].time, e))
    own_rows = [rows[event_id] for event_id in own]
    path = attack_path(incident_id, own_rows)
    worst = sorted(incident.findings, key=lambda f: (-f.severity, f.first_seen, ids[id(f)]))
    radius = _blast_radius(context, incident, own_rows)
    entry = incident.entry
    return IncidentReport(
        id=incident_id,
        number=number,
        severity=str(incident.severity),
        title=worst[0].title,
        summary=_summary(incident, worst, path, radius),
        first_seen=own_rows[0].time if own_rows else incident.timeline[0].time,
        last_seen=own_rows[-1].time if own_rows else incident.timeline[-1].time,
        entry=None
        if entry is None
        else EntryPoint(entry.src, entry.access_key, entry.source_ip, entry.time, entry.action, entry.event_ids[:1]),
        path=path,
        findings=tuple(ids[id(f)] for f in worst),
        categories=tuple(sorted({f.category for f in incident.findings})),
        attack=tuple(sorted({i for f in incident.findings for t in f.techniques for i in t.ids()})),
        principals=tuple(sorted(incident.principals)),
        keys=tuple(sorted(incident.keys)),
        ips=tuple(sorted(incident.ips)),
        resources=tuple(sorted(incident.resources)),
        blast_radius=None if radius is None else _radius_summary(radius, _subjects(incident, own_rows)),
        containment=containment_steps(context, incident, own_rows, radius),
    )


def attack_path(incident_id: str, rows: Sequence[EventRow]) -> tuple[PathHop, ...]:
    """Consecutive events (in time order) of one actor, key, address, action and target become one hop."""
    groups: list[list[EventRow]] = []
    for row in rows:
        if groups and _same_step(groups[-1][-1], row):
            groups[-1].append(row)
        else:
            groups.append([row])
    hops = []
    for number, group in enumerate(groups, 1):
        first = group[0]
        errors = Counter(row.error_code for row in group if row.error_code)
        hops.append(
            PathHop(
                id=f"{incident_id}/{number}",
                number=number,
                time=first.time,
                last_time=group[-1].time,
                actor=first.actor,
                access_key=first.access_key,
                source_ip=first.source_ip,
                action=first.name,
                target=first.target,
                count=len(group),
                refused=sum(errors.values()),
                errors=tuple(sorted(errors)),
                event_ids=tuple(row.event_id for row in group),
            )
        )
    return tuple(hops)


def _same_step(a: EventRow, b: EventRow) -> bool:
    def step(row: EventRow) -> tuple[str | None, ...]:
        return (row.actor, row.access_key, row.source_ip, row.name, row.target)

    return step(a) == step(b)


def _subjects(incident: Incident, rows: Sequence[EventRow]) -> list[tuple[str, str]]:
    """The incident's keys, each with the first time the incident's evidence shows it, earliest first."""
    first: dict[str, str] = {}
    for row in rows:
        if row.access_key in incident.keys:
            first.setdefault(row.access_key, row.time)
    start = rows[0].time if rows else ""
    return sorted(((key, first.get(key, start)) for key in incident.keys), key=lambda item: (item[1], item[0]))


def _blast_radius(context: HuntContext, incident: Incident, rows: Sequence[EventRow]) -> BlastRadius | None:
    """The union of `blast_radius` from each of the incident's keys, from its first use in the incident."""
    merged: BlastRadius | None = None
    for key, since in _subjects(incident, rows):
        if merged is not None and key in merged.keys:
            continue
        try:
            radius = blast_radius(context.case, key, since)
        except InputError:  # the key made no call from then on (e.g. a key created but never used)
            continue
        if merged is None:
            merged = radius
            continue
        merged.events += radius.events
        for name in ("keys", "principals", "roles"):
            mine: dict[str, str] = getattr(merged, name)
            for item, time in getattr(radius, name).items():
                mine[item] = min(time, mine.get(item, time))
        known = {hop.event_ids for hop in merged.created}
        merged.created.extend(hop for hop in radius.created if hop.event_ids not in known)
        for resource, value in radius.resources.items():
            entry = merged.resources.setdefault(resource, {"count": 0, "first": value["first"], "actions": Counter()})
            entry["count"] += value["count"]
            entry["first"] = min(entry["first"], value["first"])
            entry["actions"].update(value["actions"])
    return merged


def _radius_summary(radius: BlastRadius, subjects: list[tuple[str, str]]) -> BlastRadiusSummary:
    resources = sorted(radius.resources.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    return BlastRadiusSummary(
        since=min((since for _, since in subjects), default=radius.since),
        subjects=tuple(key for key, _ in subjects),
        events=radius.events,
        keys=tuple(sorted(radius.keys.items(), key=lambda kv: (kv[1], kv[0]))),
        principals=tuple(sorted(radius.principals.items(), key=lambda kv: (kv[1], kv[0]))),
        roles=tuple(sorted(radius.roles.items(), key=lambda kv: (kv[1], kv[0]))),
        created=tuple(
            CreatedThing(hop.time, hop.src, hop.action, hop.dst, hop.event_ids[0] if hop.event_ids else None)
            for hop in sorted(radius.created, key=lambda hop: (hop.time, hop.event_ids))
        ),
        resources=tuple(
            ReachedResource(
                name,
                value["first"],
                value["count"],
                tuple(sorted(value["actions"].items(), key=lambda kv: (-kv[1], kv[0]))),
            )
            for name, value in resources
        ),
    )


def _summary(
    incident: Incident, findings: Sequence[Finding], path: Sequence[PathHop], radius: BlastRadius | None
) -> str:
    """A few plain sentences: when, who came in how, what they did (`findings`: worst first), how far it reached."""
    parts: list[str] = []
    if path:
        parts.append(
            f"{len(findings)} finding(s) from {path[0].time} to {path[-1].last_time}, "
            f"{sum(hop.count for hop in path)} cited event(s) in {len(path)} step(s)."
        )
    entry = incident.entry
    if entry is not None:
        key = f" with key {entry.access_key}" if entry.access_key else ""
        where = f" from {entry.source_ip}" if entry.source_ip else ""
        parts.append(f"It starts with {entry.src}{key}{where} calling {entry.action} at {entry.time}.")
    parts.append("What was found: " + "; ".join(dict.fromkeys(f.title for f in findings[:5])) + ".")
    if len(findings) > 5:
        parts[-1] = parts[-1][:-1] + f"; and {len(findings) - 5} more."
    if radius is not None:
        parts.append(
            f"From then on its keys made {radius.events} call(s), reached {len(radius.keys)} key(s) and "
            f"{len(radius.resources)} resource(s), and created or took over {len(radius.created)} identity or "
            "credential(s)."
        )
    return " ".join(parts)
