"""The text form of `graphtrail hunt`: incidents first, then findings with their evidence paths.

Every string that came from a log is printed as plain text, never as console markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
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


def print_report(console: Console, report: HuntReport, *, paths: bool = True) -> None:
    if not report.findings:
        console.print(f"no findings ({len(report.hunts)} hunts run)")
        return
    incidents = Table(title=f"{len(report.incidents)} incidents", title_justify="left")
    for column in ("incident", "severity", "first seen", "entry point", "findings", "what"):
        incidents.add_column(column, overflow="fold")
    for incident in report.incidents:
        entry = incident.entry
        entry_text = "" if entry is None else f"{entry.src} {entry.access_key or ''} {entry.source_ip or ''}"
        incidents.add_row(
            Text(incident.id),
            Text(str(incident.severity), style=STYLES[incident.severity]),
            Text(entry.time if entry else ""),
            Text(entry_text.strip()),
            Text(str(len(incident.findings))),
            Text(", ".join(sorted({f.category for f in incident.findings}))),
        )
    console.print(incidents)
    console.print()
    for finding in report.findings:
        console.print(
            Text(f"{finding.id} ", style="bold")
            + Text(f"[{finding.severity}] ", style=STYLES[finding.severity])
            + Text(finding.title)
        )
        console.print(
            Text(
                f"  {finding.category}  {finding.first_seen} → {finding.last_seen}  "
                f"ATT&CK {', '.join(finding.as_dict()['attack'])}"
            )
        )
        console.print(Text("  " + finding.narrative))
        if paths:
            for hop in finding.path[:12]:
                console.print(Text(f"    {hop.time}  {hop.src} -[{hop.action}]-> {hop.dst}  ({hop.event_ids[0]})"))
            if len(finding.path) > 12:
                console.print(Text(f"    … {len(finding.path) - 12} more hops (--json for all)"))
        console.print()
