"""The report as JSON: sorted keys, two-space indent, one trailing newline, so equal reports are equal bytes.

The shape is `report.schema.json` (JSON Schema 2020-12), versioned by `schema_version`.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from graphtrail.report.model import Report

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def render_json(report: Report) -> str:
    return orjson.dumps(report.as_dict(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n"
