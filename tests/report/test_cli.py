"""`graphtrail report` and `graphtrail analyze` through click: exit codes, stdout and stderr apart."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from graphtrail.cli import main
from tests.conftest import NORTHWIND
from tests.report.conftest import ReportedCase


def test_report_json_to_stdout(northwind: ReportedCase) -> None:
    result = CliRunner().invoke(main, ["report", "--case", str(northwind.path), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [i["id"] for i in document["incidents"]] == [i.id for i in northwind.report.incidents]


def test_report_one_incident_to_a_file(northwind: ReportedCase, tmp_path: Path) -> None:
    target = tmp_path / "one.md"
    second = northwind.hunts.incidents[1].id
    result = CliRunner().invoke(
        main, ["report", "--case", str(northwind.path), "--incident", "2", "--format", "md", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {target}" in result.stderr
    text = target.read_text()
    assert f"incident {second}" in text.splitlines()[0]
    assert text.count("## Incident ") == 1


def test_report_of_an_unknown_incident_is_a_clear_error(northwind: ReportedCase) -> None:
    result = CliRunner().invoke(main, ["report", "--case", str(northwind.path), "--incident", "99"])
    assert result.exit_code == 2
    assert "no incident '99' in this case; incidents: 1 (INC-" in result.stderr
    assert "Traceback" not in result.output


def test_report_csv_and_html(northwind: ReportedCase, tmp_path: Path) -> None:
    for fmt in ("csv", "html"):
        target = tmp_path / f"r.{fmt}"
        result = CliRunner().invoke(main, ["report", "--case", str(northwind.path), "--format", fmt, "-o", str(target)])
        assert result.exit_code == 0, result.output
    assert target.read_text().count('<iframe class="graph"') == 1
    assert (tmp_path / "r.csv").read_text().startswith("time,event_id,event_name,")


def test_analyze_writes_the_four_files_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["analyze", str(NORTHWIND), "-o", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("index.html", "report.md", "report.json", "timeline.csv", "case.sqlite"):
        assert (out / name).is_file(), name
        assert str(out / name) in result.stdout
    assert "incidents: 2 critical" in result.stdout
    assert "ingested 6,000 new events" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["incidents"]["critical"] == 2
    # A second run on the same logs adds nothing and writes the same report.
    again = CliRunner().invoke(main, ["analyze", str(NORTHWIND), "-o", str(out)])
    assert again.exit_code == 0, again.output
    assert "ingested 0 new events" in again.stdout
    assert json.loads((out / "report.json").read_text()) == report


def test_analyze_of_an_s3_path_points_to_ingest(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", "s3://some-bucket/AWSLogs/", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "run `graphtrail ingest s3://some-bucket/AWSLogs/ --case F` first" in result.stderr
    assert not (tmp_path / "out").exists()
