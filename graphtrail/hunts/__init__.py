"""Hunts: one module per family of attacker behaviour, each a list of `HuntSpec`s run over a case.

A hunt returns findings whose path is made of real events in time order. `run_hunts` runs the chosen hunts
and groups their findings into incidents (see `graphtrail.incidents`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graphtrail.errors import InputError
from graphtrail.findings import Finding, Severity, Technique
from graphtrail.hunts.context import HuntContext
from graphtrail.incidents import Incident, group_incidents


@dataclass(frozen=True)
class HuntSpec:
    name: str
    family: str
    title: str
    description: str  # what it looks for and why it matters, for `graphtrail hunt --list`
    techniques: tuple[Technique, ...]
    run: Callable[[HuntContext], Iterable[Finding]]


FAMILIES = (
    "persistence",
    "keys",
    "lateral",
    "activity",
    "sign-in",
    "data-access",
    "exfiltration",
    "exposure",
    "evasion",
)


def all_hunts() -> list[HuntSpec]:
    """Every hunt, by family in the order above, then by name."""
    from graphtrail.hunts import (
        activity,
        data_access,
        evasion,
        exfiltration,
        exposure,
        keys,
        lateral,
        persistence,
        signin,
    )

    specs = [
        *persistence.HUNTS, *keys.HUNTS, *lateral.HUNTS, *activity.HUNTS, *signin.HUNTS, *data_access.HUNTS,
        *exfiltration.HUNTS, *exposure.HUNTS, *evasion.HUNTS,
    ]  # fmt: skip
    return sorted(specs, key=lambda spec: (FAMILIES.index(spec.family), spec.name))


def select_hunts(only: Sequence[str] | None) -> list[HuntSpec]:
    """The hunts named in `only` (hunt names or family names), or all of them."""
    specs = all_hunts()
    if not only:
        return specs
    wanted = set(only)
    known = {spec.name for spec in specs} | set(FAMILIES)
    unknown = sorted(wanted - known)
    if unknown:
        raise InputError(f"unknown hunt {', '.join(unknown)}; see `graphtrail hunt --list`")
    return [spec for spec in specs if spec.name in wanted or spec.family in wanted]


def run_hunts(
    context: HuntContext, only: Sequence[str] | None = None, progress: Callable[[str], None] | None = None
) -> list[Finding]:
    """Run the hunts; findings by severity (worst first), then time. The same case gives the same list."""
    findings: dict[str, Finding] = {}
    for spec in select_hunts(only):
        if progress is not None:
            progress(spec.name)
        for finding in spec.run(context):
            findings.setdefault(finding.id, finding)
    return sorted(findings.values(), key=lambda f: (-f.severity, f.first_seen, f.id))


@dataclass
class HuntReport:
    findings: list[Finding]
    incidents: list[Incident]
    hunts: list[str]

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hunts": self.hunts,
            "incidents": [incident.as_dict() for incident in self.incidents],
            "findings": [finding.as_dict() for finding in self.findings],
        }


def hunt_report(
    context: HuntContext, only: Sequence[str] | None = None, progress: Callable[[str], None] | None = None
) -> HuntReport:
    """Run the hunts and group their findings into incidents."""
    names = [spec.name for spec in select_hunts(only)]
    findings = run_hunts(context, only, progress)
    return HuntReport(findings, group_incidents(findings, context.lineage), names)
