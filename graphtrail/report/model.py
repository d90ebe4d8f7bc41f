"""The report model: what every renderer (Markdown, JSON, CSV, HTML) draws from.

Plain frozen data, built once from a case and a `HuntReport` by `graphtrail.report.build`. Ids are the hunts'
stable ids (GT-…, INC-…) and ids derived from them, never positions or times of the run, so two reports of the
same case are identical and two reports of a grown case diff by what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REPORT_SCHEMA_VERSION = "1.0"  # bump the minor for added fields, the major for changed or removed ones


@dataclass(frozen=True, slots=True)
class PathHop:
    """One numbered step of an incident's attack path: consecutive cited events of one actor, key, address,
    action and target, in time order."""

    id: str  # INCIDENT-ID/N
    number: int
    time: str
    last_time: str
    actor: str
    access_key: str | None
    source_ip: str | None
    action: str
    target: str | None
    count: int
    refused: int
    errors: tuple[str, ...]
    event_ids: tuple[str, ...]

    @property
    def result(self) -> str:
        if not self.refused:
            return "succeeded" if self.count == 1 else f"{self.count} succeeded"
        if self.refused == self.count:
            return f"refused ({', '.join(self.errors)})" if self.count == 1 else f"{self.count} refused"
        return f"{self.count - self.refused} succeeded, {self.refused} refused ({', '.join(self.errors)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "time": self.time,
            "last_time": self.last_time,
            "actor": self.actor,
            "access_key": self.access_key,
            "source_ip": self.source_ip,
            "action": self.action,
            "target": self.target,
            "count": self.count,
            "refused": self.refused,
            "errors": list(self.errors),
            "result": self.result,
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True, slots=True)
class ContainmentStep:
    """Something to do now, naming the exact key, user, role, policy, trail… and the events that call for it."""

    id: str  # stable: a hash of kind and subject
    kind: str  # e.g. deactivate-access-key, revoke-role-sessions, restore-trail-logging
    title: str
    subject: str  # the exact thing acted on: key id, user/role/trail ARN, bucket…
    why: str
    commands: tuple[str, ...]  # AWS CLI commands that do it (review before running)
    event_ids: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "subject": self.subject,
            "why": self.why,
            "commands": list(self.commands),
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True, slots=True)
class ReachedResource:
    resource: str
    first: str
    count: int
    actions: tuple[tuple[str, int], ...]  # most used first

    def as_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "first": self.first, "count": self.count,
                "actions": {name: count for name, count in self.actions}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CreatedThing:
    time: str
    actor: str
    action: str
    target: str
    event_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "actor": self.actor, "action": self.action, "target": self.target,
                "event_id": self.event_id}  # fmt: skip


@dataclass(frozen=True, slots=True)
class BlastRadiusSummary:
    """What the incident's keys reached from the incident's first event on (`graphtrail.paths.blast_radius`).

    It counts every use of those keys after that time, the attacker's and any legitimate use alike."""

    since: str
    subjects: tuple[str, ...]  # the keys it started from
    events: int
    keys: tuple[tuple[str, str], ...]  # (key, first use)
    principals: tuple[tuple[str, str], ...]
    roles: tuple[tuple[str, str], ...]
    created: tuple[CreatedThing, ...]
    resources: tuple[ReachedResource, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "subjects": list(self.subjects),
            "events": self.events,
            "keys": [{"key": key, "first": first} for key, first in self.keys],
            "principals": [{"principal": name, "first": first} for name, first in self.principals],
            "roles": [{"role": name, "first": first} for name, first in self.roles],
            "created": [item.as_dict() for item in self.created],
            "resources": [item.as_dict() for item in self.resources],
        }


@dataclass(frozen=True, slots=True)
class EntryPoint:
    principal: str
    access_key: str | None
    source_ip: str | None
    time: str
    action: str
    event_ids: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "access_key": self.access_key, "source_ip": self.source_ip,
                "time": self.time, "action": self.action, "event_ids": list(self.event_ids)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class IncidentReport:
    id: str
    number: int
    severity: str
    title: str
    summary: str
    first_seen: str
    last_seen: str
    entry: EntryPoint | None
    path: tuple[PathHop, ...]
    findings: tuple[str, ...]  # finding ids, worst first
    categories: tuple[str, ...]
    attack: tuple[str, ...]
    principals: tuple[str, ...]
    keys: tuple[str, ...]
    ips: tuple[str, ...]
    resources: tuple[str, ...]
    blast_radius: BlastRadiusSummary | None
    containment: tuple[ContainmentStep, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "entry_point": self.entry.as_dict() if self.entry else None,
            "path": [hop.as_dict() for hop in self.path],
            "findings": list(self.findings),
            "categories": list(self.categories),
            "attack": list(self.attack),
            "principals": list(self.principals),
            "keys": list(self.keys),
            "ips": list(self.ips),
            "resources": list(self.resources),
            "blast_radius": self.blast_radius.as_dict() if self.blast_radius else None,
            "containment": [step.as_dict() for step in self.containment],
        }


@dataclass(frozen=True, slots=True)
class FindingReport:
    """A finding as the hunts raised it (`Finding.as_dict()`), with the incident it belongs to."""

    id: str
    incident: str
    severity: str
    title: str
    data: dict[str, Any]  # Finding.as_dict(), plus technique names

    def as_dict(self) -> dict[str, Any]:
        return {**self.data, "incident": self.incident}


@dataclass(frozen=True, slots=True)
class EvidenceEvent:
    """A cited event: the stored columns (never the raw record) and what it supports."""

    event_id: str
    time: str
    name: str
    source: str
    region: str | None
    account: str | None
    actor: str
    actor_kind: str
    access_key: str | None
    source_ip: str | None
    user_agent: str | None
    target: str | None
    error_code: str | None
    incidents: tuple[str, ...]
    findings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "time": self.time,
            "name": self.name,
            "source": self.source,
            "region": self.region,
            "account": self.account,
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "access_key": self.access_key,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "target": self.target,
            "error_code": self.error_code,
            "incidents": list(self.incidents),
            "findings": list(self.findings),
        }


@dataclass(frozen=True, slots=True)
class CaseSummary:
    name: str  # the case file's name (not its full path: reports travel)
    events: int
    first_event: str | None
    last_event: str | None
    accounts: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "events": self.events, "first_event": self.first_event,
                "last_event": self.last_event, "accounts": list(self.accounts)}  # fmt: skip


@dataclass(frozen=True)
class Report:
    generator: str
    case: CaseSummary
    hunts: tuple[str, ...]
    scope: str | None  # the incident id when the report covers one incident
    incidents: tuple[IncidentReport, ...]
    findings: tuple[FindingReport, ...]
    events: tuple[EvidenceEvent, ...]
    missing_events: tuple[str, ...] = field(default=())  # cited by a hunt but not in the case (a bug if any)
    least: str = "low"  # the least severe incident included
    below_least: int = 0  # incidents left out for being less severe
    title: str = ""  # what the report is about, for headings; the case's name when empty

    @property
    def heading(self) -> str:
        scope = f", incident {self.scope}" if self.scope else ""
        return f"graphtrail report: {self.title or self.case.name}{scope}"

    def counts(self, items: str) -> dict[str, int]:
        source = self.incidents if items == "incidents" else self.findings
        result = {name: 0 for name in ("critical", "high", "medium", "low", "info")}
        for item in source:
            result[item.severity] += 1
        return result

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": "graphtrail",
            "schema_version": REPORT_SCHEMA_VERSION,
            "title": self.heading,
            "generator": self.generator,
            "case": self.case.as_dict(),
            "scope": {"incident": self.scope, "min_severity": self.least, "incidents_below": self.below_least},
            "hunts": list(self.hunts),
            "summary": {
                "incidents": self.counts("incidents"),
                "findings": self.counts("findings"),
                "events_cited": len(self.events),
            },
            "incidents": [incident.as_dict() for incident in self.incidents],
            "findings": [finding.as_dict() for finding in self.findings],
            "events": [event.as_dict() for event in self.events],
            "missing_events": list(self.missing_events),
        }
