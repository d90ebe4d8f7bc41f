"""The evidence timeline as CSV: one row per cited event, in time order, with the incidents and findings it
supports, for spreadsheets and SIEM re-import.

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) get a
leading apostrophe: user agents and session names are written by the attacker.
"""

from __future__ import annotations

import csv
import io

from graphtrail.report.model import Report

COLUMNS = (
    "time",
    "event_id",
    "event_name",
    "event_source",
    "account",
    "region",
    "actor",
    "actor_kind",
    "access_key",
    "source_ip",
    "target",
    "error_code",
    "user_agent",
    "incidents",
    "severity",
    "findings",
    "categories",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | None) -> str:
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(report: Report) -> str:
    severity = {incident.id: incident.severity for incident in report.incidents}
    category = {finding.id: finding.data["category"] for finding in report.findings}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for event in report.events:
        writer.writerow(
            _cell(value)
            for value in (
                event.time,
                event.event_id,
                event.name,
                event.source,
                event.account,
                event.region,
                event.actor,
                event.actor_kind,
                event.access_key,
                event.source_ip,
                event.target,
                event.error_code,
                event.user_agent,
                ";".join(event.incidents),
                ";".join(sorted({severity[i] for i in event.incidents if i in severity})),
                ";".join(event.findings),
                ";".join(sorted({category[f] for f in event.findings if f in category})),
            )
        )
    return buffer.getvalue()
