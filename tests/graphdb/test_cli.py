"""`graphtrail neo4j load | hunt | query` against a real Neo4j: exit codes, stdout and stderr apart."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import neo4j
import pytest
from click.testing import CliRunner, Result

from graphtrail.cli import main
from tests.graphdb.conftest import SimulatedCase


@pytest.fixture
def env(neo4j_uri: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("NEO4J_URI", neo4j_uri)
    return {"NEO4J_URI": neo4j_uri}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_load_reports_what_it_wrote_and_a_reload_writes_nothing(
    loaded: neo4j.Driver, simulated: SimulatedCase, env: dict[str, str]
) -> None:
    result = invoke("neo4j", "load", "--case", str(simulated.path), "--json", env=env)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["nodes"] > 1000 and summary["relationships"] > 5000
    assert (summary["nodes_written"], summary["relationships_written"]) == (0, 0)
    text = invoke("neo4j", "load", "--case", str(simulated.path), env=env)
    assert text.exit_code == 0 and f"{summary['nodes']:,} nodes (0 written)" in text.stdout


def test_hunt_json_has_the_shape_of_graphtrail_hunt(
    loaded: neo4j.Driver, simulated: SimulatedCase, env: dict[str, str]
) -> None:
    result = invoke("neo4j", "hunt", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == set(simulated.report)
    assert report["findings"] and report["incidents"]
    assert {tuple(sorted(f)) for f in report["findings"]} == {tuple(sorted(simulated.report["findings"][0]))}
    assert {tuple(sorted(i)) for i in report["incidents"]} == {tuple(sorted(simulated.report["incidents"][0]))}
    some = json.loads(invoke("neo4j", "hunt", "root-use", "evasion", "--json", env=env).stdout)
    assert some["hunts"] == ["defense-evasion", "root-use"]
    assert {f["hunt"] for f in some["findings"]} == {"defense-evasion", "root-use"}


def test_hunt_takes_parameters_and_prints_text(
    loaded: neo4j.Driver, simulated: SimulatedCase, env: dict[str, str]
) -> None:
    key = simulated.story("stolen-instance-credentials")["attacker"]["keys"][0]
    result = invoke("neo4j", "hunt", "key-blast-radius", "--param", f"key={key}", "--min-severity", "info", env=env)
    assert result.exit_code == 0, result.stderr
    assert "Reached by " + key in result.stdout


def test_unknown_hunt_is_a_one_line_error(env: dict[str, str]) -> None:
    result = invoke("neo4j", "hunt", "no-such-hunt", env=env)
    assert result.exit_code == 2
    assert "unknown Cypher hunt no-such-hunt" in result.stderr and result.stdout == ""


def test_hunt_list_needs_no_server() -> None:
    result = invoke("neo4j", "hunt", "--list", "--json", env={"NEO4J_URI": "bolt://127.0.0.1:1"})
    assert result.exit_code == 0
    names = {h["name"] for h in json.loads(result.stdout)}
    assert {"workload-key-outside-aws", "path-to-admin-session", "cross-account-role-chains"} <= names


def test_query_passes_parameters_and_is_read_only_unless_asked(loaded: neo4j.Driver, env: dict[str, str]) -> None:
    result = invoke("neo4j", "query", "MATCH (n:GT) WHERE n.kind = $kind RETURN count(n) AS n", "--param", "kind=Root",
                    "--json", env=env)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": 1}]
    refused = invoke("neo4j", "query", "CREATE (:Scratch {name: 'x'})", env=env)
    assert refused.exit_code == 2 and "refused the query" in refused.stderr
    assert loaded.execute_query("MATCH (n:Scratch) RETURN count(n) AS n").records[0]["n"] == 0


def test_query_reads_a_cypher_file(loaded: neo4j.Driver, env: dict[str, str], tmp_path: Path) -> None:
    query = tmp_path / "kinds.cypher"
    query.write_text("MATCH (n:GT) RETURN n.kind AS kind, count(*) AS n ORDER BY kind")
    result = invoke("neo4j", "query", str(query), "--json", env=env)
    assert result.exit_code == 0
    assert "AccessKey" in {row["kind"] for row in json.loads(result.stdout)}


def test_an_unreachable_server_is_an_error_without_the_password(simulated: SimulatedCase) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    password = "Do-Not-Print-This-1"
    env = {"NEO4J_URI": f"bolt://127.0.0.1:{port}", "NEO4J_USER": "neo4j", "NEO4J_PASSWORD": password}
    result = invoke("neo4j", "load", "--case", str(simulated.path), env=env)
    assert result.exit_code == 2
    assert "cannot reach Neo4j" in result.stderr
    assert password not in result.stderr and password not in result.stdout
