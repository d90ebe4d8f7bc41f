from __future__ import annotations

from pathlib import Path

import pytest

from graphtrail import case as case_module
from graphtrail.case import Case
from graphtrail.errors import CaseError


def test_edges_read_from_a_case_share_their_endpoint_names_with_the_nodes(northwind_case: Path) -> None:
    """One string per key, not one per edge end: a tenth of a large graph's memory."""
    with Case(northwind_case) as case:
        keys = {node.key: node.key for node in case.node_states()}
        edges = list(case.edge_states(include_derived=True))
    assert edges
    assert all(keys[edge.src] is edge.src and keys[edge.dst] is edge.dst for edge in edges)


def test_each_event_reads_back_its_own_record_from_its_files_frame(
    northwind_case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are stored a file at a time; an event's row names its line. With one frame kept at a time,
    reading the events in time order (hopping between files) still gives each event its own record."""
    monkeypatch.setattr(case_module, "_FRAMES_KEPT", 1)
    with Case(northwind_case) as case:
        rows = list(case.events())
        records = [case.record(row) for row in rows]
        files = case.db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    assert len(rows) == 6000 and files > 1
    assert [record["eventID"] for record in records] == [row.event_id for row in rows]
    assert all(record["eventName"] == row.name for record, row in zip(records, rows, strict=True))


def test_a_case_of_the_older_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "old.case"
    with Case(path, create=True) as case:
        case.db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    with pytest.raises(CaseError, match=r"has case schema 1; .* ingest the logs again into a new case"):
        Case(path)


def test_absent_event_fields_are_stored_null_and_blobs_as_blobs(northwind_case: Path) -> None:
    """The main process binds absent text as '' (sqlite3 adapts each None it binds: slow); NULLIF stores NULL."""
    with Case(northwind_case) as case:
        db = case.db
        nullable = ("region", "account", "access_key", "source_ip", "user_agent", "error_code", "shared_event_id")
        for column in nullable:
            assert db.execute(f"SELECT COUNT(*) FROM events WHERE {column} = ''").fetchone()[0] == 0, column
        assert db.execute("SELECT COUNT(*) FROM events WHERE error_code IS NULL").fetchone()[0] > 5000
        assert db.execute("SELECT COUNT(*) FROM events WHERE error_code IS NOT NULL").fetchone()[0] > 0
        assert db.execute("SELECT COUNT(*) FROM events WHERE access_key IS NULL").fetchone()[0] > 0
        for table, column in (("records", "frame"), ("nodes", "props"), ("edges", "props")):
            assert {row[0] for row in db.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")} == {"blob"}
        rows = list(case.events())
    assert any(row.error_code is None for row in rows) and all(row.error_code != "" for row in rows)
