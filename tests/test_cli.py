from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import networkx as nx
import orjson
from click.testing import CliRunner

from graphtrail.cli import main
from tests.conftest import DATA, INVICTUS

MALFORMED = DATA / "cloudtrail2sightings-stratus-2022" / "extracted"


def _run(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_ingest_prints_accounting_as_json(tmp_path: Path) -> None:
    result = _run("ingest", str(INVICTUS), "--case", str(tmp_path / "c.case"), "--json")
    assert result.exit_code == 0
    summary = orjson.loads(result.stdout)
    assert summary["records"]["read"] == 2900
    assert summary["balanced"] is True
    assert summary["files"]["ingested"] == 55


def test_strict_ingest_fails_on_a_malformed_file_but_keeps_the_rest(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    good = sorted(INVICTUS.glob("*.json"))[0]
    (logs / "good.json").write_bytes(good.read_bytes())
    (logs / "broken.json.gz").write_bytes(gzip.compress(good.read_bytes())[:300])  # cut mid-stream
    records = len(orjson.loads(good.read_bytes())["Records"])
    result = _run("ingest", str(logs), "--case", str(tmp_path / "c.case"), "--strict", "--json")
    assert result.exit_code == 1
    summary = orjson.loads(result.stdout)
    assert summary["records"]["ingested"] == records
    assert summary["files"]["rejected"] == {"truncated-gzip": 1}
    assert "broken.json.gz" in result.stderr and "truncated-gzip" in result.stderr
    lenient = _run("ingest", str(logs), "--case", str(tmp_path / "d.case"))
    assert lenient.exit_code == 0


def test_salvaged_file_is_reported(tmp_path: Path) -> None:
    result = _run("ingest", str(MALFORMED), "--case", str(tmp_path / "c.case"))
    assert result.exit_code == 0
    assert "records-salvaged" in result.stdout


def test_ingest_reads_stdin(tmp_path: Path) -> None:
    data = sorted(INVICTUS.glob("*.json"))[0].read_bytes()
    result = _run("ingest", "-", "--case", str(tmp_path / "c.case"), "--json", stdin=data)
    assert result.exit_code == 0
    assert orjson.loads(result.stdout)["records"]["ingested"] == len(orjson.loads(data)["Records"])


def test_missing_path_and_missing_case_are_clear_errors(tmp_path: Path) -> None:
    result = _run("ingest", str(tmp_path / "nope"), "--case", str(tmp_path / "c.case"))
    assert result.exit_code == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr
    result = _run("stats", "--case", str(tmp_path / "absent.case"))
    assert result.exit_code == 2
    assert "no case file" in result.stderr


def test_stats_whois_and_export(tmp_path: Path) -> None:
    case = str(tmp_path / "c.case")
    assert _run("ingest", str(INVICTUS), "--case", case).exit_code == 0

    stats = orjson.loads(_run("stats", "--case", case, "--json").stdout)
    assert stats["events"] > 0 and stats["nodes_by_kind"]["AccessKey"] > 0
    assert stats["first_event"].startswith("2023-07-10T")
    assert "Management" not in stats["rejects_by_reason"]
    human = _run("stats", "--case", case)
    assert human.exit_code == 0 and "busiest principals" in human.stdout

    report = orjson.loads(_run("whois", "ASIATFQR7NSCSHSEVYP5", "--case", case, "--json").stdout)
    assert report["kind"] == "AccessKey"
    assert report["acts_as"].endswith("/i-0dbc91f429e48eeed")
    assert (report["minted"]["method"], report["minted"]["issuer"]) == ("issuing-event", "ec2.amazonaws.com")
    assert "3.225.16.109" in report["source_ips"]
    assert report["actions"]
    text = _run("whois", "ASIATFQR7NSCSHSEVYP5", "--case", case)
    assert "ec2.amazonaws.com" in text.stdout

    unknown = _run("whois", "AKIANOTINTHECASE000", "--case", case)
    assert unknown.exit_code == 2 and "not a key" in unknown.stderr

    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        output = tmp_path / f"g.{fmt}"
        assert _run("export", "--case", case, "--format", fmt, "-o", str(output)).exit_code == 0
        assert reader(output).number_of_nodes() == sum(stats["nodes_by_kind"].values())
    output = tmp_path / "g.json"
    assert _run("export", "--case", case, "--format", "json", "-o", str(output)).exit_code == 0
    graph = nx.node_link_graph(orjson.loads(output.read_bytes()), edges="edges")
    assert graph.number_of_nodes() == sum(stats["nodes_by_kind"].values())


def test_help_explains_the_commands() -> None:
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("ingest", "stats", "whois", "export"):
        assert command in result.stdout
    assert "lookup-events" in _run("ingest", "--help").stdout


def test_log_strings_in_reject_lines_are_shown_as_text_not_markup(tmp_path: Path) -> None:
    good = orjson.loads(sorted(INVICTUS.glob("*.json"))[0].read_bytes())["Records"][0]
    hostile = {**good, "eventID": "a", "userIdentity": {"type": "[/x]", "principalId": "p"}}
    # Member names of a customer's archive are as hostile as the records in them.
    path = tmp_path / "customer.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[bold]EVIL[/bold][/x].json", orjson.dumps({"Records": [hostile]}))
    result = _run("ingest", str(path), "--case", str(tmp_path / "c.case"), "--json")
    assert result.exit_code == 0
    assert "[bold]EVIL[/bold][/x].json" in result.stderr
    assert "userIdentity.type 4 characters" in result.stderr  # the value itself is not echoed
    assert orjson.loads(result.stdout)["records"]["rejected"] == 1


def test_simulate_writes_a_trail_that_ingest_reads_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = _run(
        "simulate",
        "--out",
        str(out),
        "--days",
        "1",
        "--events",
        "1500",
        "--accounts",
        "4",
        "--scenarios",
        "leaked-ci-key,admin-key-rotation",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert summary["events"] == 1500 and summary["attacks"] == ["leaked-ci-key"]
    assert summary["decoys"] == ["admin-key-rotation"]
    ingested = _run("ingest", str(out), "--case", str(tmp_path / "s.case"), "--json", "--strict")
    assert ingested.exit_code == 0
    accounting = orjson.loads(ingested.stdout)
    assert accounting["records"]["ingested"] == 1500 and accounting["files"]["skipped"]["ground-truth"] == 1


def test_simulate_lists_scenarios_and_refuses_unknown_ones(tmp_path: Path) -> None:
    listed = _run("simulate", "--list", "--json")
    names = [item["name"] for item in orjson.loads(listed.stdout)]
    assert "trust-policy-backdoor" in names and "nightly-etl" in names
    refused = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "x"), "--scenarios", "nope"])
    assert refused.exit_code == 2 and "unknown scenario nope" in refused.output
    missing = CliRunner().invoke(main, ["simulate"])
    assert missing.exit_code == 2 and "--out" in missing.output


def _simulated_case(tmp_path: Path, scenarios: str) -> Path:
    out, case_path = tmp_path / "sim", tmp_path / "sim.case"
    _run("simulate", "--out", str(out), "--days", "1", "--events", "1500", "--accounts", "4", "--scenarios", scenarios)
    _run("ingest", str(out), "--case", str(case_path))
    return case_path


def test_hunt_reports_findings_as_json_and_fails_on_severity(tmp_path: Path) -> None:
    case_path = _simulated_case(tmp_path, "defense-evasion")
    result = CliRunner().invoke(
        main, ["hunt", "--case", str(case_path), "--only", "evasion", "--json", "--fail-on", "high"]
    )
    assert result.exit_code == 1
    report = orjson.loads(result.stdout)
    assert report["hunts"] == ["defense-evasion"]
    (finding,) = report["findings"]
    assert finding["severity"] == "critical" and finding["path"] and finding["narrative"]
    assert report["incidents"][0]["findings"] == [finding["id"]]
    text = _run("hunt", "--case", str(case_path), "--only", "defense-evasion")
    assert finding["id"] in text.stdout and "StopLogging" in text.stdout


def test_hunt_on_a_quiet_case_exits_zero_and_lists_its_hunts(tmp_path: Path) -> None:
    case_path = _simulated_case(tmp_path, "admin-key-rotation")
    quiet = CliRunner().invoke(main, ["hunt", "--case", str(case_path), "--only", "evasion", "--fail-on", "low"])
    assert quiet.exit_code == 0 and "no findings" in quiet.stdout
    listed = orjson.loads(_run("hunt", "--list", "--json").stdout)
    assert {"defense-evasion"} <= {h["name"] for h in listed}
    assert all(h["description"] and h["family"] for h in listed)
    unknown = CliRunner().invoke(main, ["hunt", "--case", str(case_path), "--only", "nope"])
    assert unknown.exit_code == 2 and "unknown hunt nope" in unknown.output


def test_path_blast_radius_and_timeline_commands(tmp_path: Path) -> None:
    case_path = _simulated_case(tmp_path, "leaked-ci-key")
    truth = orjson.loads((tmp_path / "sim" / "ground_truth.json").read_bytes())
    steps = truth["scenarios"][0]["steps"]
    new_key = next(s["target"] for s in steps if s["action"] == "CreateAccessKey")
    leaked = next(k for k in truth["scenarios"][0]["attacker"]["keys"] if k != new_key)
    paths = orjson.loads(_run("path", "--case", str(case_path), "--from", leaked, "--to", new_key, "--json").stdout)
    assert [hop["action"] for hop in paths[0]["hops"]] == ["AUTHENTICATES", "CreateAccessKey"]
    radius = orjson.loads(
        _run(
            "blast-radius", leaked, "--case", str(case_path), "--since", truth["scenarios"][0]["start"], "--json"
        ).stdout
    )
    assert new_key in radius["keys"]
    lines = _run("timeline", new_key, "--case", str(case_path), "--json").stdout.splitlines()
    assert lines and all(orjson.loads(line)["access_key"] == new_key for line in lines)
    missing = CliRunner().invoke(main, ["path", "--case", str(case_path), "--from", "nothing", "--to", new_key])
    assert missing.exit_code == 2 and "not a node" in missing.output
