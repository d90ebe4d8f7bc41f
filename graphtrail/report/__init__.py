"""Reports of an investigation: per incident the entry point, the attack path, the findings, the blast radius
and the containment steps, rendered as Markdown (the ticket), JSON (automation; schema in
`report.schema.json`), CSV (the evidence timeline) and one self-contained HTML page.

>>> report = build_report(context, hunt_report(context))  # doctest: +SKIP
>>> Path("report.md").write_text(render_markdown(report))  # doctest: +SKIP
"""

from __future__ import annotations

from graphtrail.report.build import build_report
from graphtrail.report.csv_format import render_csv
from graphtrail.report.html import render_html
from graphtrail.report.json_format import SCHEMA_PATH, render_json
from graphtrail.report.markdown import render_markdown
from graphtrail.report.model import REPORT_SCHEMA_VERSION, Report

REPORT_FORMATS = ("md", "json", "csv", "html")

__all__ = [
    "REPORT_FORMATS",
    "REPORT_SCHEMA_VERSION",
    "SCHEMA_PATH",
    "Report",
    "build_report",
    "render_csv",
    "render_html",
    "render_json",
    "render_markdown",
]
