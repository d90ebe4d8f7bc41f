"""The text form of `graphtrail hunt`: incidents first, then findings with their evidence paths.

Blocks rather than tables, so long ARNs stay readable at any terminal width. Every string that came from a
log is printed as plain text, never as console markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from graphtrail.findings import Severity
from graphtrail.hunts import HuntReport

STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
MAX_HOPS_SHOWN = 12


def print_report(console: Console, report: HuntReport, *, least: Severity = Severity.LOW) -> None:
    findings = [f for f in report.findings if f.severity >= least]
    incidents = [i for i in report.incidents if i.severity >= least]
    hidden = len(report.findings) - len(findings)
    if not findings:
        note = f" ({hidden} below {least}: --min-severity info shows them)" if hidden else ""
        console.print(f"no findings ({len(report.hunts)} hunts run){note}")
        return
    console.print(Text(f"{len(incidents)} incidents, {len(findings)} findings", style="bold"))
    for incident in incidents:
        console.print()
        first, last = incident.timeline[0].time, incident.timeline[-1].time
        console.print(
            _severity(incident.severity) + Text(f" {incident.id}  {first} → {last}  {len(incident.findings)} findings")
        )
        if incident.entry is not None:
            entry = incident.entry
            console.print(
                Text(
                    f"  entry: {entry.src}  key {entry.access_key or '-'}  from {entry.source_ip or '-'}"
                    f"  at {entry.time} ({entry.action})"
                )
            )
        console.print(Text("  what:  " + ", ".join(sorted({f.category for f in incident.findings}))))
        console.print(Text("  findings: " + ", ".join(f.id for f in incident.findings)))
    for finding in findings:
        console.print()
        console.print(_severity(finding.severity) + Text(f" {finding.id}  {finding.title}", style="bold"))
        console.print(
            Text(
                f"  {finding.category}  {finding.first_seen} → {finding.last_seen}  confidence "
                f"{finding.confidence:.1f}  ATT&CK {', '.join(finding.as_dict()['attack'])}"
            )
        )
        console.print(Text("  " + finding.narrative))
        for hop in finding.path[:MAX_HOPS_SHOWN]:
            more = f" +{len(hop.event_ids) - 1}" if len(hop.event_ids) > 1 else ""
            evidence = (hop.event_ids[0] + more) if hop.event_ids else "no event"
            console.print(Text(f"    {hop.time}  {hop.src} -[{hop.action}]-> {hop.dst}  ({evidence})"))
        if len(finding.path) > MAX_HOPS_SHOWN:
            console.print(Text(f"    … {len(finding.path) - MAX_HOPS_SHOWN} more hops (--json for all)"))
    if hidden:
        console.print()
        console.print(f"{hidden} findings below {least} not shown (--min-severity info shows them)")


def _severity(severity: Severity) -> Text:
    return Text(f"[{severity}]", style=STYLES[severity])
