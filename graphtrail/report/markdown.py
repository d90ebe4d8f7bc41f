"""The report as Markdown, for a ticket: per incident the summary, entry point, numbered attack path, findings,
blast radius and containment steps.

Every string from a log is hostile: identifiers go into code spans (fenced with more backticks than they
hold), free text has Markdown's and HTML's special characters escaped, and no value can break a line.
"""

from __future__ import annotations

import re
from collections import Counter

from graphtrail.report.model import (
    BlastRadiusSummary,
    ContainmentStep,
    FindingReport,
    IncidentReport,
    PathHop,
    Report,
)

MAX_LIST = 25  # rows of a blast-radius list shown; the JSON has them all
MAX_STEPS = 60  # attack path steps shown whole; longer paths show FIRST_STEPS and the later changes
FIRST_STEPS = 40
MAX_REPEATS = 4  # a later action done more often than this (59 PutParameter) is counted, not listed
READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search", "Scan", "Query", "BatchGet", "Select")
_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#!{}])")


def text(value: object) -> str:
    """Free text, escaped so that no character of it is read as Markdown or HTML."""
    return _SPECIAL.sub(r"\\\1", _one_line(str(value)))


def code(value: object) -> str:
    """A code span holding `value` exactly (backticks inside and all)."""
    body = _one_line(str(value))
    if not body:
        return "—"
    run = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * (run + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or run else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def _one_line(value: str) -> str:
    return " ".join(value.split()) if any(c in value for c in "\r\n\t\v\f\x85\u2028\u2029") else value


def render_markdown(report: Report) -> str:
    lines: list[str] = []
    case = report.case
    lines += [f"# {text(report.heading)}", ""]
    span = f"{case.first_event} → {case.last_event}" if case.first_event else "no events"
    lines.append(
        f"Case {code(case.name)}: {case.events:,} events, {span}, accounts "
        f"{', '.join(code(a) for a in case.accounts) or '—'}. {len(report.hunts)} hunts run by "
        f"{text(report.generator)}. "
        "Times are UTC. Every step below cites the CloudTrail event ids that prove it; `timeline.csv` / the "
        "JSON report list those events."
    )
    lines.append("")
    incidents = report.counts("incidents")
    findings = report.counts("findings")
    lines.append(
        "**Incidents:** "
        + (", ".join(f"{n} {s}" for s, n in incidents.items() if n) or "none")
        + ". **Findings:** "
        + (", ".join(f"{n} {s}" for s, n in findings.items() if n) or "none")
        + f". **Events cited:** {len(report.events):,}."
        + (
            f" {report.below_least} incident(s) below {report.least} are left out (`--min-severity info` shows them)."
            if report.below_least
            else ""
        )
    )
    lines.append("")
    if report.missing_events:
        lines += [f"> Warning: {len(report.missing_events)} cited event(s) are not in the case.", ""]
    if not report.incidents:
        lines += ["No incident: the hunts found nothing.", ""]
        return "\n".join(lines)
    lines += ["| # | severity | incident | when | entry point | findings |", "|---|---|---|---|---|---|"]
    for incident in report.incidents:
        entry = incident.entry
        where = "—"
        if entry:
            where = code(_short(entry.principal)) + (f" from {code(entry.source_ip)}" if entry.source_ip else "")
        lines.append(
            f"| {incident.number} | {incident.severity} | [{code(incident.id)}](#{incident.id.lower()}) "
            f"{text(incident.title)} | {incident.first_seen} → {incident.last_seen} | {where} | "
            f"{len(incident.findings)} |"
        )
    lines.append("")
    by_id = {finding.id: finding for finding in report.findings}
    for incident in report.incidents:
        lines += _incident(incident, by_id)
    return "\n".join(lines).rstrip() + "\n"


def _short(arn: str) -> str:
    """A principal ARN's readable tail (the full ARN is in the path and the JSON)."""
    return arn.rsplit(":", 1)[-1] if arn.startswith("arn:") else arn


def _incident(incident: IncidentReport, findings: dict[str, FindingReport]) -> list[str]:
    lines = [
        f'<a id="{incident.id.lower()}"></a>',
        "",
        f"## Incident {incident.number} [{incident.severity}]: {text(incident.title)}",
        "",
        f"{code(incident.id)} · {incident.first_seen} → {incident.last_seen} · ATT&CK "
        + (", ".join(incident.attack) or "—"),
        "",
        text(incident.summary),
        "",
    ]
    entry = incident.entry
    if entry is not None:
        lines += [
            "**Entry point:** "
            + f"{code(entry.principal)}, key {code(entry.access_key or '')}, from {code(entry.source_ip or '')}, "
            + f"{code(entry.action)} at {entry.time}"
            + (f" (event {code(entry.event_ids[0])})" if entry.event_ids else "")
            + ".",
            "",
        ]
    lines += [f"### Attack path ({len(incident.path)} steps)", ""]
    shown = shown_steps(incident.path)
    if len(shown) < len(incident.path):
        kept = {hop.number for hop in shown}
        left = Counter(hop.action for hop in incident.path if hop.number not in kept)
        lines += [
            f"{len(incident.path)} steps: showing the first {FIRST_STEPS} and the {len(shown) - FIRST_STEPS} later "
            "ones that changed something and are not repeated many times (numbers skip the others). Left out: "
            + ", ".join(f"{text(action)} ×{count}" for action, count in left.most_common(12))
            + (", …" if len(left) > 12 else "")
            + ". `timeline.csv` and the JSON report hold every step.",
            "",
        ]
    for hop in shown:
        when = hop.time if hop.count == 1 else f"{hop.time} → {hop.last_time}"
        times = f" ×{hop.count}" if hop.count > 1 else ""
        more = f" +{hop.count - 1}" if hop.count > 1 else ""
        lines.append(
            f"{hop.number}. {when} — {code(hop.actor)} (key {code(hop.access_key or '')}, from "
            f"{code(hop.source_ip or '')}): **{text(hop.action)}**{times} → {code(hop.target or '')} — "
            f"{text(hop.result)}. Event {code(hop.event_ids[0])}{more}."
        )
    lines += ["", f"### Findings ({len(incident.findings)})", ""]
    for finding_id in incident.findings:
        lines += _finding(findings[finding_id])
    if incident.blast_radius is not None:
        lines += _blast_radius(incident.blast_radius)
    lines += [f"### Containment ({len(incident.containment)} steps)", ""]
    if not incident.containment:
        note = (
            "None proposed below medium severity: review the findings first."
            if incident.severity in ("low", "info")
            else "No concrete step could be derived; read the findings' narratives."
        )
        lines += [note, ""]
    for number, step in enumerate(incident.containment, 1):
        lines += _step(number, step)
    return lines


def shown_steps(path: tuple[PathHop, ...]) -> list[PathHop]:
    """A long path (real trails hold hundreds of steps) cut to its start and the later calls that changed
    something (not read-only, not refused, not one of many alike), so the ticket stays readable; paths of up to
    MAX_STEPS are shown whole."""
    if len(path) <= MAX_STEPS:
        return list(path)
    changes = [
        hop for hop in path[FIRST_STEPS:] if not hop.action.startswith(READ_ONLY_PREFIXES) and hop.refused < hop.count
    ]
    repeats = Counter(hop.action for hop in changes)
    later = [hop for hop in changes if repeats[hop.action] <= MAX_REPEATS]
    return [*path[:FIRST_STEPS], *later[: MAX_STEPS * 2]]


def _finding(finding: FindingReport) -> list[str]:
    data = finding.data
    techniques = ", ".join(
        f"{t['id']}{'/' + t['v19'] if t.get('v19') and t['v19'] != t['id'] else ''} {text(t['name'])}"
        for t in data["techniques"]
    )
    return [
        f"- **[{finding.severity}] {text(finding.title)}** {code(finding.id)}",
        f"  - {code(data['category'])}, hunt {code(data['hunt'])}, confidence {data['confidence']:.1f}, "
        f"{data['first_seen']} → {data['last_seen']}",
        f"  - ATT&CK: {techniques or '—'}",
        f"  - {text(data['narrative'])}",
        "",
    ]


def _blast_radius(radius: BlastRadiusSummary) -> list[str]:
    lines = [
        "### Blast radius",
        "",
        f"Everything the incident's keys ({', '.join(code(k) for k in radius.subjects)}) and the keys they minted "
        f"or created did from {radius.since} on: {radius.events:,} call(s). This counts every use of those keys "
        "after that time, the attacker's and any legitimate use alike.",
        "",
    ]
    lists = (
        ("Keys reached", [f"{code(k)} first used {t}" for k, t in radius.keys]),
        ("Principals acting", [f"{code(p)} from {t}" for p, t in radius.principals]),
        ("Roles reached", [f"{code(r)} from {t}" for r, t in radius.roles]),
        (
            "Identities and credentials created or taken over",
            [f"{c.time} {code(c.actor)} {text(c.action)} → {code(c.target)}" for c in radius.created],
        ),
        (
            "Resources read or changed (busiest first)",
            [
                f"{code(r.resource)}: {r.count:,} call(s) from {r.first} ("
                + ", ".join(f"{text(a)} ×{n}" for a, n in r.actions[:6])
                + (", …" if len(r.actions) > 6 else "")
                + ")"
                for r in radius.resources
            ],
        ),
    )
    for title, items in lists:
        if not items:
            continue
        lines.append(f"**{title}** ({len(items)}):")
        lines.append("")
        lines += [f"- {item}" for item in items[:MAX_LIST]]
        if len(items) > MAX_LIST:
            lines.append(f"- … {len(items) - MAX_LIST} more (see the JSON report)")
        lines.append("")
    return lines


def _step(number: int, step: ContainmentStep) -> list[str]:
    lines = [f"{number}. **{text(step.title)}** — {text(step.why)}"]
    if step.event_ids:
        shown = ", ".join(code(e) for e in step.event_ids[:3])
        more = f" +{len(step.event_ids) - 3}" if len(step.event_ids) > 3 else ""
        lines.append(f"   Evidence: {shown}{more}.")
    if step.commands:
        lines += ["", "   ```sh", *(f"   {_one_line(command)}" for command in step.commands), "   ```"]
    lines.append("")
    return lines
