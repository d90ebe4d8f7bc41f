"""Renderers: the JSON validates against the committed schema and is stable; the CSV has one row per cited
event; Markdown and HTML keep hostile log strings inert."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re

import jsonschema
import pytest

from graphtrail.case import Case
from graphtrail.hunts import hunt_report
from graphtrail.hunts.context import HuntContext
from graphtrail.report import SCHEMA_PATH, build_report, render_csv, render_html, render_json, render_markdown
from graphtrail.report.markdown import code, text
from graphtrail.report.model import EvidenceEvent
from tests.report.conftest import ReportedCase

HOSTILE = "</script><script>alert(1)</script>`|*[x](javascript:alert(2))<img src=x onerror=alert(3)>\n# heading"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_json_validates_against_the_schema(any_case: ReportedCase, validator: jsonschema.Draft202012Validator) -> None:
    document = json.loads(render_json(any_case.report))
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    assert document["schema_version"].startswith("1.")


def test_the_schema_rejects_a_report_missing_its_evidence(
    northwind: ReportedCase, validator: jsonschema.Draft202012Validator
) -> None:
    document = json.loads(render_json(northwind.report))
    del document["incidents"][0]["path"][0]["event_ids"]
    document["findings"][0]["severity"] = "urgent"
    assert len(list(validator.iter_errors(document))) == 2


def test_two_reports_of_the_same_case_are_identical(northwind: ReportedCase) -> None:
    with Case(northwind.path) as case:
        context = HuntContext(case)
        again = build_report(context, hunt_report(context))
    assert render_json(again) == render_json(northwind.report)
    assert render_markdown(again) == render_markdown(northwind.report)
    assert render_csv(again) == render_csv(northwind.report)


def test_ids_are_the_hunts_stable_ids(northwind: ReportedCase) -> None:
    document = json.loads(render_json(northwind.report))
    assert [i["id"] for i in document["incidents"]] == [i.id for i in northwind.report.incidents]
    assert {f["id"] for f in document["findings"]} == {f.id for f in northwind.hunts.findings if
                                                       f.id in {x.id for x in northwind.report.findings}}  # fmt: skip
    steps = [s["id"] for i in document["incidents"] for s in i["containment"]]
    assert len(steps) == len(set(steps))
    hops = [h["id"] for i in document["incidents"] for h in i["path"]]
    assert all(h.startswith("INC-") and "/" in h for h in hops)


def test_csv_has_one_row_per_cited_event(any_case: ReportedCase) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(any_case.report))))
    cited = {e for f in any_case.report.findings for hop in f.data["path"] for e in hop["event_ids"]}
    assert len(rows) == len(cited) == len({row["event_id"] for row in rows})
    assert {row["event_id"] for row in rows} == cited
    assert [row["time"] for row in rows] == sorted(row["time"] for row in rows)
    incidents = {i.id for i in any_case.report.incidents}
    findings = {f.id for f in any_case.report.findings}
    for row in rows:
        assert set(row["incidents"].split(";")) <= incidents
        assert set(row["findings"].split(";")) <= findings


def test_csv_cells_never_start_a_spreadsheet_formula(northwind: ReportedCase) -> None:
    event = dataclasses.replace(northwind.report.events[0], user_agent='=HYPERLINK("http://x")', actor="@SUM(1)")
    report = dataclasses.replace(northwind.report, events=(event,))
    row = next(csv.DictReader(io.StringIO(render_csv(report))))
    assert row["user_agent"] == '\'=HYPERLINK("http://x")'
    assert row["actor"] == "'@SUM(1)"


def test_markdown_code_spans_hold_any_string_exactly() -> None:
    assert code("a`b") == "`` a`b ``"
    assert code("plain") == "`plain`"
    assert "\n" not in code("two\nlines")


def _unescaped(markdown: str, pattern: str) -> list[str]:
    """Occurrences of `pattern` outside code spans and not preceded by a backslash."""
    outside = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown)
    return re.findall(r"(?<!\\)" + pattern, outside)


def test_markdown_text_escapes_markup() -> None:
    escaped = text(HOSTILE)
    assert "\n" not in escaped
    for raw in ("<", r"\[", "`", r"\|", r"\*"):
        assert _unescaped(escaped, raw) == []


def test_markdown_and_html_of_hostile_evidence_stay_inert(northwind: ReportedCase) -> None:
    event = dataclasses.replace(northwind.report.events[0], user_agent=HOSTILE, target=HOSTILE)
    first = northwind.report.incidents[0]
    hop = dataclasses.replace(first.path[0], actor=HOSTILE, target=HOSTILE)
    incident = dataclasses.replace(first, title=HOSTILE, summary=HOSTILE, path=(hop, *first.path[1:]))
    report = dataclasses.replace(northwind.report, events=(event,), incidents=(incident,))
    page = render_html(report, graph_page=f"<html><body>{HOSTILE}</body></html>")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("<iframe") == 1 and 'sandbox="allow-scripts"' in page
    markdown = render_markdown(report)
    assert "\n# heading" not in markdown
    anchors = [line for line in markdown.splitlines() if line.startswith('<a id="inc-')]  # written by graphtrail
    assert len(anchors) == 1
    assert _unescaped(markdown.replace(anchors[0], ""), "<") == []


def test_html_without_the_graph_says_so(northwind: ReportedCase) -> None:
    page = render_html(northwind.report, None, graph_note="the browser view could not be loaded (test)")
    assert "<iframe" not in page
    assert "The graph view is not included: the browser view could not be loaded (test)" in page


def test_markdown_reads_as_a_ticket(northwind: ReportedCase) -> None:
    markdown = render_markdown(northwind.report)
    incident = northwind.report.incidents[1]
    assert f"## Incident 2 [{incident.severity}]" in markdown
    for heading in ("### Attack path", "### Findings", "### Blast radius", "### Containment"):
        assert heading in markdown
    assert "**Entry point:** `arn:aws:iam::604705062878:user/ci-deployer`, key `AKIAIZSZ277PIZVA5AUF`" in markdown
    assert "**CreateUser** → `arn:aws:iam::604705062878:user/svc-h9zfcb` — succeeded" in markdown
    assert (
        "aws iam update-access-key --user-name ci-deployer --access-key-id AKIAIZSZ277PIZVA5AUF --status Inactive"
        in markdown
    )
    assert "T1136.003" in markdown


def test_a_long_path_is_cut_to_its_start_and_later_changes(invictus: ReportedCase) -> None:
    longest = max(invictus.report.incidents, key=lambda i: len(i.path))
    assert len(longest.path) > 60
    markdown = render_markdown(invictus.report)
    assert f"{len(longest.path)} steps: showing the first 40 and the " in markdown
    assert "Left out: " in markdown
    later_changes = [
        h for h in longest.path[40:] if h.action in ("CreateUser", "DeleteTrail", "StopLogging") and not h.refused
    ]
    assert later_changes
    for hop in later_changes:
        assert f"\n{hop.number}. {hop.time}" in markdown


def test_evidence_event_serialises_every_field() -> None:
    fields = {f.name for f in dataclasses.fields(EvidenceEvent)}
    sample = EvidenceEvent(**{name: ("x" if name not in ("incidents", "findings") else ("y",)) for name in fields})
    assert set(sample.as_dict()) == fields
