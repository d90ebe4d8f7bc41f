"""Findings that share credentials, lineage or attacker addresses are one incident.

Two findings are joined when they name the same access key, when one's key descends from the other's through
credential lineage, or when they share an address outside AWS that the hunts flagged. An incident has an
entry point (its earliest hop: the first attacker credential and address), a timeline, a blast radius, and
the severity of its worst finding.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphtrail.findings import Finding, Hop, Severity
from graphtrail.grouping import connected_groups
from graphtrail.lineage import KeyLineage, chain_of


@dataclass
class Incident:
    findings: list[Finding]
    severity: Severity = Severity.INFO
    entry: Hop | None = None
    timeline: list[Hop] = field(default_factory=list)
    principals: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)

    @cached_property
    def id(self) -> str:
        joined = "\n".join(sorted(f.id for f in self.findings))
        return "INC-" + hashlib.sha256(joined.encode()).hexdigest()[:10]

    def as_dict(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "id": self.id,
            "severity": str(self.severity),
            "first_seen": self.timeline[0].time if self.timeline else None,
            "last_seen": self.timeline[-1].time if self.timeline else None,
            "entry_point": None if entry is None else {"principal": entry.src, "access_key": entry.access_key,
                                                       "source_ip": entry.source_ip, "time": entry.time,
                                                       "action": entry.action, "event_ids": list(entry.event_ids)},
            "findings": [f.id for f in self.findings],
            "categories": sorted({f.category for f in self.findings}),
            "blast_radius": {"principals": sorted(self.principals), "keys": sorted(self.keys),
                             "resources": sorted(self.resources), "ips": sorted(self.ips)},
            "timeline": [hop.as_dict() for hop in self.timeline],
        }  # fmt: skip


def group_incidents(findings: Iterable[Finding], lineage: dict[str, KeyLineage]) -> list[Incident]:
    """Join findings into incidents; worst first, then earliest."""
    groups = connected_groups(list(findings), lambda finding: _links(finding, lineage))
    incidents = [_incident(group) for group in groups]
    return sorted(incidents, key=lambda i: (-i.severity, i.timeline[0].time if i.timeline else "", i.id))


def _links(finding: Finding, lineage: dict[str, KeyLineage]) -> set[str]:
    # Public addresses only: many unrelated callers can sit behind one private address or NAT.
    links = {f"ip:{ip}" for ip in finding.ips if _is_public(ip)}
    for key in finding.keys:
        links.add(f"key:{key}")
        for hop in chain_of(key, lineage):
            if hop.issuer_key:
                links.add(f"key:{hop.issuer_key}")
    return links


def _is_service(principal: str) -> bool:
    """AWS acting (issuing a workload's credentials) is where a path starts, not where an attacker came in."""
    return principal.endswith(".amazonaws.com") or principal == "AWS Internal"


def _is_public(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


def _incident(findings: list[Finding]) -> Incident:
    findings.sort(key=lambda f: (f.first_seen, f.id))
    seen: dict[tuple[str, ...], Hop] = {}
    for finding in findings:
        for hop in finding.path:
            seen.setdefault(hop.event_ids, hop)
    timeline = sorted(seen.values(), key=lambda hop: (hop.time, hop.event_ids))
    entry = next((hop for hop in timeline if not _is_service(hop.src)), timeline[0] if timeline else None)
    incident = Incident(findings, max(f.severity for f in findings), entry, timeline)
    for finding in findings:
        incident.principals |= finding.principals
        incident.keys |= finding.keys
        incident.ips |= finding.ips
        incident.resources |= finding.resources
    return incident
