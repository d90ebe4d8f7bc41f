"""Hostile strings from logs load as data, and the Neo4j password never shows."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import neo4j
import pytest

from graphtrail.case import Case
from graphtrail.graphdb.connection import Neo4jConnectionError, Neo4jSettings, open_driver, settings_from
from graphtrail.graphdb.load import load_case
from graphtrail.ingest import ingest_paths
from graphtrail.schema import is_structural
from tests.graphdb.conftest import assume_role_record, count, write_records

HOSTILE_NAMES = [
    "x'}) DETACH DELETE n //",
    'q"uote`back`tick}{brace',
    "a`]->(m) DETACH DELETE m //",
    "x\\u0060]->(m) DETACH DELETE m //",
    "$rows; MATCH (n) DETACH DELETE n",
]


def _hostile_case(tmp_path: Path) -> Path:
    records = []
    for number, name in enumerate(HOSTILE_NAMES):
        # the name as a session name (a node key and property) and as an event name (a relationship type)
        records.append(assume_role_record(f"s-{number}", f"2026-11-02T10:0{number}:00Z", session_name=name,
                                          new_key=f"ASIAHOSTILE00000000{number}", user_agent=name))  # fmt: skip
        records.append(assume_role_record(f"e-{number}", f"2026-11-02T11:0{number}:00Z", event_name=name,
                                          new_key=f"ASIAHOSTILE0000000E{number}"))  # fmt: skip
    trail = tmp_path / "trail"
    trail.mkdir()
    write_records(trail / "hostile.json", records)
    case_path = tmp_path / "hostile.case"
    ingest_paths([str(trail)], case_path, workers=1)
    return case_path


def test_hostile_names_load_as_data_and_change_nothing_else(graph_db: neo4j.Driver, tmp_path: Path) -> None:
    graph_db.execute_query("CREATE (:Canary {name: 'still here'})")
    try:
        case_path = _hostile_case(tmp_path)
        with Case(case_path) as case:
            summary = load_case(graph_db, case)
            actions = {edge.type for edge in case.edge_states() if not is_structural(edge.type)}
        assert summary.relationships_missing_ends == 0
        assert count(graph_db, "MATCH (n:Canary) RETURN count(n)") == 1
        assert count(graph_db, "MATCH (n:GT) RETURN count(n)") == summary.nodes
        assert count(graph_db, "MATCH (:GT)-[r]->(:GT) RETURN count(r)") == summary.relationships
        for name in HOSTILE_NAMES:
            sessions = graph_db.execute_query(
                "MATCH (s:Session) WHERE s.session_name = $name RETURN s.key AS key", name=name
            ).records
            assert [r["key"] for r in sessions] == [f"arn:aws:sts::111122223333:assumed-role/deployer/{name}"]
            assert count(graph_db, "MATCH ()-[r]->() WHERE $name IN r.user_agents RETURN count(r)", name=name) >= 1
        # every event name is kept: as the relationship type where it can be quoted, always as `action`
        stored = {r["action"]: r["type"] for r in graph_db.execute_query(
            "MATCH ()-[r]->() WHERE r.structural = false RETURN DISTINCT r.action AS action, type(r) AS type").records}  # fmt: skip
        assert set(stored) == actions
        assert stored["x'}) DETACH DELETE n //"] == "x'}) DETACH DELETE n //"
        assert stored["a`]->(m) DETACH DELETE m //"] == "a`]->(m) DETACH DELETE m //"
        assert stored["x\\u0060]->(m) DETACH DELETE m //"] == "ACTION"  # Cypher would unescape \u0060
        again = None
        with Case(case_path) as case:
            again = load_case(graph_db, case)
            forced = load_case(graph_db, case, force=True)  # the per-type MERGE, types quoted in the statement
        assert (again.nodes_written, again.relationships_written) == (0, 0)
        assert forced.relationships_written == summary.relationships
        assert count(graph_db, "MATCH (n:Canary) RETURN count(n)") == 1
        assert count(graph_db, "MATCH (:GT)-[r]->(:GT) RETURN count(r)") == summary.relationships
        assert {r["action"]: r["type"] for r in graph_db.execute_query(
            "MATCH ()-[r]->() WHERE r.structural = false RETURN DISTINCT r.action AS action, type(r) AS type").records} == stored  # fmt: skip
    finally:
        graph_db.execute_query("MATCH (n:Canary) DELETE n")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_password_never_appears_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    password = "S3cret-Pa55word-never-shown"
    settings = settings_from(uri=f"bolt://127.0.0.1:{_closed_port()}", user="neo4j", password=password)
    assert password not in repr(settings)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Neo4jConnectionError) as raised:
        open_driver(settings)
    assert "cannot reach Neo4j at bolt://127.0.0.1:" in str(raised.value)
    assert password not in str(raised.value)
    assert password not in caplog.text


def test_a_refused_password_is_reported_without_it(neo4j_uri: str, caplog: pytest.LogCaptureFixture) -> None:
    """Against a server with authentication on, wrong credentials say so; the launcher's has it off, where any
    credentials are accepted and the error path is checked by scrub() instead."""
    password = "an0ther-Secret"
    settings = Neo4jSettings(uri=neo4j_uri, user="neo4j", password=password)
    caplog.set_level(logging.DEBUG)
    try:
        driver = open_driver(settings)
    except Neo4jConnectionError as exc:
        assert "refused the credentials" in str(exc)
        assert password not in str(exc)
    else:
        driver.close()
    assert password not in caplog.text
    assert settings.scrub(f"failed with {password}") == "failed with ***"


def test_settings_come_from_the_environment_and_refuse_unknown_schemes() -> None:
    env = {"NEO4J_URI": "neo4j+s://db.example:7687", "NEO4J_USER": "hunter", "NEO4J_PASSWORD": "pw"}
    settings = settings_from(environ=env)
    assert (settings.uri, settings.user, settings.auth) == ("neo4j+s://db.example:7687", "hunter", ("hunter", "pw"))
    assert settings_from(uri="bolt://other:7687", environ=env).uri == "bolt://other:7687"
    assert settings_from(environ={}).auth is None
    with pytest.raises(Neo4jConnectionError, match="unsupported Neo4j URI"):
        settings_from(uri="http://127.0.0.1:7474", environ={})
