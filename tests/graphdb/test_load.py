"""Loading a case into a real Neo4j: idempotent, incremental, resumable, and --wipe touches only graphtrail's nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import neo4j
import pytest

from graphtrail.case import Case
from graphtrail.graphdb.load import edge_row, load_case, node_row
from graphtrail.ingest import ingest_paths
from tests.graphdb.conftest import SimulatedCase, assume_role_record, case_graph, count, loaded_graph, write_records


def test_loading_the_same_case_twice_leaves_identical_counts_and_writes_nothing(
    graph_db: neo4j.Driver, simulated: SimulatedCase
) -> None:
    with Case(simulated.path) as case:
        first = load_case(graph_db, case, batch_size=500)
        after_first = loaded_graph(graph_db)
        second = load_case(graph_db, case, batch_size=500)
    assert first.nodes_written == first.nodes > 1000
    assert first.relationships_written == first.relationships > 5000
    assert first.relationships_missing_ends == 0
    assert (second.nodes_written, second.relationships_written) == (0, 0)
    assert loaded_graph(graph_db) == after_first == case_graph(simulated.path)
    assert count(graph_db, "MATCH (n:GT) RETURN count(n)") == first.nodes
    assert count(graph_db, "MATCH (:GT)-[r]->(:GT) RETURN count(r)") == first.relationships


def test_a_case_that_grew_loads_only_what_changed_and_aggregates_match_the_case(
    graph_db: neo4j.Driver, simulated: SimulatedCase, tmp_path: Path
) -> None:
    accounts = sorted(p for p in simulated.trail.glob("AWSLogs/o-*/*") if p.is_dir())
    grown = tmp_path / "grown.case"
    ingest_paths([str(accounts[0])], grown, workers=1)
    with Case(grown) as case:
        load_case(graph_db, case)
    before = loaded_graph(graph_db)
    assert before == case_graph(grown)

    ingest_paths([str(simulated.trail)], grown, workers=1)
    with Case(grown) as case:
        summary = load_case(graph_db, case)
    after = case_graph(grown)
    assert loaded_graph(graph_db) == after  # every count, first/last seen and list as the grown case has it
    changed_nodes = sum(1 for key, digest in after[0].items() if before[0].get(key) != digest)
    changed_edges = sum(1 for key, digest in after[1].items() if before[1].get(key) != digest)
    assert (summary.nodes_written, summary.relationships_written) == (changed_nodes, changed_edges)
    assert 0 < changed_edges < len(after[1])  # some relationships were already right and were not re-sent


def test_neo4j_holds_exactly_the_case_s_labels_types_and_properties_also_after_a_forced_rewrite(
    graph_db: neo4j.Driver, simulated: SimulatedCase
) -> None:
    with Case(simulated.path) as case:
        logged = frozenset(
            a for (a,) in case.db.execute("SELECT DISTINCT account FROM events WHERE account IS NOT NULL")
        )
        nodes = {row.key: (["GT", row.kind], row.props) for row in (node_row(n, logged) for n in case.node_states())}
        edges = {row.identity: (row.type, row.props) for row in map(edge_row, case.edge_states(include_derived=True))}
        first = load_case(graph_db, case)  # what Neo4j lacks: the statements with dynamic labels and types
        stored = _stored(graph_db)
        forced = load_case(graph_db, case, force=True)  # everything again, through the per-type MERGE
    assert stored == (nodes, edges)
    assert (first.nodes_written, first.relationships_written) == (len(nodes), len(edges))
    assert (forced.nodes_written, forced.relationships_written) == (len(nodes), len(edges))
    assert _stored(graph_db) == (nodes, edges)


def _stored(driver: neo4j.Driver) -> tuple[dict[str, Any], dict[tuple[str, str, str], Any]]:
    nodes = driver.execute_query("MATCH (n:GT) RETURN n.key AS key, labels(n) AS labels, properties(n) AS props")
    rels = driver.execute_query(
        "MATCH (a:GT)-[r]->(b:GT) RETURN a.key AS src, r.action AS action, b.key AS dst, type(r) AS type, "
        "properties(r) AS props"
    )
    return (
        {r["key"]: (sorted(r["labels"], key=lambda name: name != "GT"), r["props"]) for r in nodes.records},
        {(r["src"], r["action"], r["dst"]): (r["type"], r["props"]) for r in rels.records},
    )


def test_aggregates_are_set_from_the_case_not_added(graph_db: neo4j.Driver, tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    trail.mkdir()
    write_records(trail / "a.json", [assume_role_record("e-1", "2026-11-02T10:00:00Z", new_key="ASIAEXAMPLE00000000A")])
    case_path = tmp_path / "small.case"
    ingest_paths([str(trail)], case_path, workers=1)
    with Case(case_path) as case:
        load_case(graph_db, case)
    write_records(trail / "b.json", [assume_role_record("e-2", "2026-11-02T12:00:00Z", new_key="ASIAEXAMPLE00000000B")])
    ingest_paths([str(trail)], case_path, workers=1)
    with Case(case_path) as case:
        load_case(graph_db, case)
        load_case(graph_db, case)
    query = (
        "MATCH (:User {key: 'arn:aws:iam::111122223333:user/alice'})-[r:AssumeRole]->(s:Session) "
        "RETURN r.count AS count, r.first_seen AS first, r.last_seen AS last"
    )
    records = graph_db.execute_query(query).records
    assert [(r["count"], r["first"], r["last"]) for r in records] == [
        (2, "2026-11-02T10:00:00Z", "2026-11-02T12:00:00Z")
    ]
    assert count(graph_db, "MATCH (k:AccessKey) WHERE k.key STARTS WITH 'ASIAEXAMPLE' RETURN count(k)") == 2


def test_an_interrupted_load_finishes_when_run_again(graph_db: neo4j.Driver, simulated: SimulatedCase) -> None:
    class Stop(Exception):
        pass

    def stop_after_some(stage: str, done: int, total: int) -> None:
        if stage == "relationships" and done >= 1000:
            raise Stop

    with Case(simulated.path) as case:
        with pytest.raises(Stop):
            load_case(graph_db, case, batch_size=500, progress=stop_after_some)
        partial = loaded_graph(graph_db)
        expected = case_graph(simulated.path)
        assert 0 < len(partial[1]) < len(expected[1])
        summary = load_case(graph_db, case, batch_size=500)
    assert loaded_graph(graph_db) == expected
    assert summary.nodes_written == 0
    assert summary.relationships_written == len(expected[1]) - len(partial[1])


def test_wipe_removes_graphtrail_nodes_only(graph_db: neo4j.Driver, simulated: SimulatedCase) -> None:
    graph_db.execute_query("CREATE (:Unrelated {name: 'someone else data'})")
    try:
        with Case(simulated.path) as case:
            load_case(graph_db, case)
            summary = load_case(graph_db, case, wipe_first=True)
        assert summary.wiped == summary.nodes
        assert summary.nodes_written == summary.nodes  # everything written again after the wipe
        assert count(graph_db, "MATCH (n:Unrelated) RETURN count(n)") == 1
    finally:
        graph_db.execute_query("MATCH (n:Unrelated) DELETE n")


def test_schema_creates_the_constraint_and_indexes(graph_db: neo4j.Driver, tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    trail.mkdir()
    write_records(trail / "a.json", [assume_role_record("e-1", "2026-11-02T10:00:00Z")])
    ingest_paths([str(trail)], tmp_path / "s.case", workers=1)
    with Case(tmp_path / "s.case") as case:
        load_case(graph_db, case)
    names = {r["name"] for r in graph_db.execute_query("SHOW CONSTRAINTS YIELD name").records}
    assert "gt_key" in names
    indexes = {r["name"] for r in graph_db.execute_query("SHOW INDEXES YIELD name").records}
    assert {"gt_accesskey_key", "gt_ip_is_aws", "gt_session_role"} <= indexes


def test_the_database_mirrors_the_case_last_loaded(graph_db: neo4j.Driver, tmp_path: Path) -> None:
    """What the case no longer holds (a node it renamed, or another case's graph) is removed; nothing outside
    graphtrail's label is touched."""
    cases = []
    for name, key in (("first", "ASIAEXAMPLE0000FIRST"), ("second", "ASIAEXAMPLE000SECOND")):
        trail = tmp_path / name
        trail.mkdir()
        write_records(trail / "a.json", [assume_role_record(f"{name}-1", "2026-11-02T10:00:00Z", session_name=name,
                                                            new_key=key)])  # fmt: skip
        ingest_paths([str(trail)], tmp_path / f"{name}.case", workers=1)
        cases.append(tmp_path / f"{name}.case")
    graph_db.execute_query("CREATE (:Unrelated {name: 'keep'})")
    try:
        with Case(cases[0]) as case:
            load_case(graph_db, case)
        with Case(cases[1]) as case:
            summary = load_case(graph_db, case)
        assert loaded_graph(graph_db) == case_graph(cases[1])
        assert summary.nodes_removed >= 2  # the first case's session and key
        assert summary.relationships_removed >= 2
        assert count(graph_db, "MATCH (k:AccessKey {key: 'ASIAEXAMPLE0000FIRST'}) RETURN count(k)") == 0
        assert count(graph_db, "MATCH (n:Unrelated) RETURN count(n)") == 1
    finally:
        graph_db.execute_query("MATCH (n:Unrelated) DELETE n")
