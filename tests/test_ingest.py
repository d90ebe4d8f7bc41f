from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from graphtrail import ingest as ingest_module
from graphtrail.case import Case, unpack_records
from graphtrail.ingest import ingest_paths
from tests.conftest import DATA, INVICTUS, STRATUS, load_records

TOKEN_PREFIX = b"IQoJb3JpZ2lu"  # every STS session token in the data starts like this


def _tables(case_path: Path) -> dict[str, list[tuple]]:
    """The case's content, minus run bookkeeping, in a stable order."""
    db = sqlite3.connect(case_path)
    try:
        return {
            "events": db.execute("SELECT * FROM events ORDER BY event_id").fetchall(),
            "nodes": db.execute("SELECT * FROM nodes ORDER BY key").fetchall(),
            "edges": db.execute("SELECT * FROM edges ORDER BY src, type, dst").fetchall(),
            "key_lineage": db.execute("SELECT * FROM key_lineage ORDER BY access_key_id").fetchall(),
            "issuances": db.execute("SELECT * FROM issuances ORDER BY event_id").fetchall(),
        }
    finally:
        db.close()


def _comparable(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Drop file ids (they depend on the order files were read in)."""
    return {**tables, "events": [row[:15] + row[16:] for row in tables["events"]]}


def test_invictus_ingests_every_record(tmp_path: Path) -> None:
    summary = ingest_paths([str(INVICTUS)], tmp_path / "c.case")
    assert summary.files_ingested == 55
    assert summary.records_read == 2900
    assert summary.events_ingested + summary.duplicates == 2900
    assert summary.records_rejected == 0
    assert summary.balanced


@pytest.mark.parametrize(
    ("folder", "files", "read", "ingested", "duplicates", "rejected"),
    [
        # Synthetic placeholder records ("userIdentityType1"…) and one broken JSON file: nothing is usable.
        ("aws-cloudtrail-processing-library-tests", 14, 43, 0, 0,
         {"bad-eventTime": 1, "malformed-json": 1, "missing-eventTime": 3, "missing-identity-type": 1,
          "unknown-identity-type": 37}),
        # Our {doc, event} extraction lines are not a CloudTrail shape.
        ("awsdocs-examples", 4, 28, 0, 0, {"not-cloudtrail": 28}),
        # The zip holds the same four files as extracted/, so they count once; the malformed file is salvaged.
        ("cloudtrail2sightings-stratus-2022", 10, 15, 15, 0, {}),
        # labels_derived.jsonl has eventID/eventTime/eventName but no identity: rejected, not invented.
        ("invictus-ir-aws-dataset", 59, 5800, 2900, 0, {"missing-userIdentity": 2900}),
        # Rule test lines are {rule_id, log} wrappers; the scenario files reuse eventID "1" for 27 events.
        ("panther-analysis", 26, 491, 27, 0, {"not-cloudtrail": 464}),
        ("stratus-red-team-detonation-logs", 38, 354, 310, 0, {"not-cloudtrail": 44}),
    ],
)  # fmt: skip
def test_every_data_folder_is_accounted_for_exactly(
    tmp_path: Path, folder: str, files: int, read: int, ingested: int, duplicates: int, rejected: dict[str, int]
) -> None:
    summary = ingest_paths([str(DATA / folder)], tmp_path / "c.case")
    assert (summary.files_seen, summary.records_read, summary.events_ingested, summary.duplicates) == (
        files,
        read,
        ingested,
        duplicates,
    )
    assert dict(summary.rejected) == rejected
    assert summary.balanced
    assert summary.files_seen == (
        summary.files_ingested
        + summary.files_already_ingested
        + sum(summary.files_skipped.values())
        + sum(summary.files_rejected.values())
    )


def test_reingesting_the_same_folder_leaves_the_case_identical(tmp_path: Path) -> None:
    case = tmp_path / "c.case"
    ingest_paths([str(INVICTUS)], case)
    before = _tables(case)
    again = ingest_paths([str(INVICTUS)], case)
    assert again.files_already_ingested == 55
    assert again.events_ingested == 0
    assert _tables(case) == before


def test_incremental_ingest_equals_one_run(tmp_path: Path) -> None:
    files = sorted(INVICTUS.glob("*.json"))
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for index, path in enumerate(files):
        shutil.copy(path, (first if index % 2 else second) / path.name)
    grown = tmp_path / "grown.case"
    ingest_paths([str(second)], grown)
    ingest_paths([str(first)], grown)
    whole = tmp_path / "whole.case"
    ingest_paths([str(INVICTUS)], whole)
    assert _comparable(_tables(grown)) == _comparable(_tables(whole))


def test_duplicate_events_in_another_file_are_counted_not_ingested(tmp_path: Path) -> None:
    source = sorted(INVICTUS.glob("*.json"))[0]
    records = orjson.loads(source.read_bytes())["Records"]
    (tmp_path / "logs").mkdir()
    shutil.copy(source, tmp_path / "logs" / "a.json")
    # Same events, different bytes: what a second trail or a re-delivery produces.
    (tmp_path / "logs" / "b.json.gz").write_bytes(gzip.compress(orjson.dumps({"Records": records[::-1]})))
    summary = ingest_paths([str(tmp_path / "logs")], tmp_path / "c.case")
    assert summary.records_read == 2 * len(records)
    assert summary.duplicates == len(records)
    assert summary.events_ingested == len(records)


def test_no_session_token_is_stored(tmp_path: Path) -> None:
    assert any(TOKEN_PREFIX in path.read_bytes() for path in INVICTUS.glob("*.json"))  # the input has them
    case = tmp_path / "c.case"
    ingest_paths([str(INVICTUS), str(STRATUS)], case)
    for suffix in ("", "-wal"):
        path = Path(str(case) + suffix)
        if path.exists():
            assert TOKEN_PREFIX not in path.read_bytes()
    with Case(case) as opened:
        frames = [frame for (frame,) in opened.db.execute("SELECT frame FROM records")]
        assert frames and all(opened.record(row) for row in opened.events())
    for frame in frames:
        assert not any(TOKEN_PREFIX in record for record in unpack_records(frame))


def test_interrupted_run_resumes_to_the_same_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "CHECKPOINT_SECONDS", 0.0)  # checkpoint after every batch
    monkeypatch.setattr(ingest_module, "CHECKPOINT_SPACING", 0.0)
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 4)

    def stop_after_ten(state: ingest_module.IngestProgress) -> None:
        if state.files_done >= 10:
            raise KeyboardInterrupt

    interrupted = tmp_path / "interrupted.case"
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([str(INVICTUS)], interrupted, progress=stop_after_ten)
    resumed = ingest_paths([str(INVICTUS)], interrupted)
    assert 0 < resumed.files_already_ingested < 55
    whole = tmp_path / "whole.case"
    ingest_paths([str(INVICTUS)], whole)
    assert _comparable(_tables(interrupted)) == _comparable(_tables(whole))


def test_insights_are_kept_apart_from_the_graph(tmp_path: Path) -> None:
    insight = {
        "eventVersion": "1.07",
        "eventTime": "2019-11-14T00:51:00Z",
        "awsRegion": "us-east-1",
        "eventID": "insight-1",
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "123456789012",
        "sharedEventID": "shared-1",
        "insightDetails": {
            "state": "Start",
            "eventSource": "ssm.amazonaws.com",
            "eventName": "UpdateInstanceInformation",
            "insightType": "ApiCallRateInsight",
        },
        "eventCategory": "Insight",
    }
    path = tmp_path / "insights.json"
    path.write_bytes(orjson.dumps({"Records": [insight]}))
    summary = ingest_paths([str(path)], tmp_path / "c.case")
    assert (summary.insights_ingested, summary.events_ingested, summary.balanced) == (1, 0, True)
    with Case(tmp_path / "c.case") as case:
        assert case.scalar("SELECT count(*) FROM insights") == 1
        assert case.scalar("SELECT count(*) FROM nodes") == 0


def test_records_without_time_or_identity_are_rejected_with_reasons(tmp_path: Path) -> None:
    good = orjson.loads(sorted(INVICTUS.glob("*.json"))[0].read_bytes())["Records"][0]
    no_time = {k: v for k, v in good.items() if k != "eventTime"} | {"eventID": "no-time"}
    no_identity = {k: v for k, v in good.items() if k != "userIdentity"} | {"eventID": "no-identity"}
    odd_identity = good | {"eventID": "odd", "userIdentity": {"type": "Martian", "principalId": "x"}}
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in (good, no_time, no_identity, odd_identity)))
    summary = ingest_paths([str(path)], tmp_path / "c.case")
    assert summary.events_ingested == 1
    assert dict(summary.rejected) == {
        "missing-eventTime": 1,
        "missing-userIdentity": 1,
        "unknown-identity-type": 1,
    }
    assert summary.balanced
    assert any("mixed.jsonl" in line and "unknown-identity-type" in line for line in summary.problems)


@pytest.mark.parametrize("batch_files", [1, 3, 64])
def test_case_does_not_depend_on_how_files_are_batched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_files: int
) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(INVICTUS, logs)
    first, second = sorted(logs.glob("*.json"))[:2]
    records = orjson.loads(first.read_bytes())["Records"]
    # A re-delivery in another file (other bytes), and a byte-identical copy under another name.
    (logs / "zz-redelivered.json.gz").write_bytes(gzip.compress(orjson.dumps({"Records": records[::-1]})))
    shutil.copy(second, logs / "zz-copy.json")
    reference = ingest_paths([str(logs)], tmp_path / "reference.case", workers=1)
    monkeypatch.setattr(ingest_module, "BATCH_FILES", batch_files)
    batched = ingest_paths([str(logs)], tmp_path / "batched.case", workers=2)
    assert batched.duplicates == reference.duplicates == len(records)
    assert batched.files_already_ingested == reference.files_already_ingested == 1
    assert batched.as_dict() | {"seconds": 0, "workers": 0} == reference.as_dict() | {"seconds": 0, "workers": 0}
    assert _comparable(_tables(tmp_path / "batched.case")) == _comparable(_tables(tmp_path / "reference.case"))


def test_case_does_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    one = tmp_path / "one.case"
    two = tmp_path / "two.case"
    ingest_paths([str(INVICTUS), str(STRATUS)], one, workers=1)
    summary = ingest_paths([str(INVICTUS), str(STRATUS)], two, workers=2)
    assert summary.workers == 2
    assert _tables(one) == _tables(two)


def test_hostile_numbers_and_dates_are_survived(tmp_path: Path) -> None:
    """Values no AWS service writes, but an attacker or a broken export can: the run goes on."""
    records = load_records(STRATUS / "aws.defense-evasion.organizations-leave.json")
    leave = next(r for r in records if r["eventName"] == "LeaveOrganization")
    odd_date = {**leave, "eventID": "11111111-1111-1111-1111-111111111111"}
    odd_date["userIdentity"] = {**leave["userIdentity"], "sessionContext": {
        **leave["userIdentity"]["sessionContext"], "attributes": {"creationDate": "9" * 400}}}  # fmt: skip
    get_object = {
        "eventVersion": "1.11", "eventTime": "2024-08-02T08:31:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userIdentity": leave["userIdentity"], "requestParameters": {"bucketName": "b", "key": "k"},
        "recipientAccountId": "307578594326", "eventCategory": "Data",
    }  # fmt: skip
    huge = [
        {**get_object, "eventID": f"2222222{i}-2222-2222-2222-222222222222",
         "additionalEventData": {"bytesTransferredOut": n}}
        for i, n in enumerate((2**64 - 1, 2**53, 2**53))
    ]  # fmt: skip
    path = tmp_path / "odd.json"
    path.write_bytes(orjson.dumps({"Records": [odd_date, *huge]}))
    summary = ingest_paths([str(path)], tmp_path / "c.case")
    assert summary.events_ingested == 4 and summary.balanced


def test_a_worker_that_dies_stops_the_run_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from graphtrail.errors import GraphtrailError

    real = ingest_module.read_log_file

    def dying(log_file, limits, **kwargs):  # runs in the forked worker
        if log_file.source.endswith("1200Z_iLj9fb7yyUG9X4Bf.json"):
            os._exit(7)
        return real(log_file, limits, **kwargs)

    monkeypatch.setattr(ingest_module, "read_log_file", dying)
    with pytest.raises(GraphtrailError, match="exit code 7"):
        ingest_paths([str(INVICTUS)], tmp_path / "c.case", workers=2)
    with Case(tmp_path / "c.case") as case:  # nothing half-written
        assert case.scalar("SELECT count(*) FROM events") == 0


def test_an_error_in_a_worker_is_reported_not_hung_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphtrail.errors import GraphtrailError

    def failing(log_file, limits, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest_module, "read_log_file", failing)
    with pytest.raises(GraphtrailError, match="disk on fire"):
        ingest_paths([str(INVICTUS)], tmp_path / "c.case", workers=2)


def test_the_collector_runs_less_often_during_an_ingest_and_as_before_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from graphtrail import collector

    real = ingest_module.read_log_file

    def checking(log_file, limits, **kwargs):  # runs in the forked workers
        if gc.get_threshold() != collector.THRESHOLDS:
            raise RuntimeError(f"collector thresholds {gc.get_threshold()} in a worker")
        return real(log_file, limits, **kwargs)

    monkeypatch.setattr(ingest_module, "read_log_file", checking)
    before = gc.get_threshold()
    assert before != collector.THRESHOLDS
    in_main: set[tuple[int, ...]] = set()
    summary = ingest_paths(
        [str(INVICTUS)], tmp_path / "c.case", workers=2, progress=lambda _: in_main.add(gc.get_threshold())
    )
    assert summary.workers == 2 and summary.events_ingested > 0
    assert in_main == {collector.THRESHOLDS}
    assert gc.get_threshold() == before


def test_checkpoints_are_spaced_by_what_the_last_one_cost() -> None:
    # A minute apart while writing the graph is quick; a checkpoint that took 20 s is followed by 180 s of
    # reading, so writing graphs that grow with the run stays a tenth of it.
    assert ingest_module.next_checkpoint_interval(0.5) == ingest_module.CHECKPOINT_SECONDS == 60.0
    assert ingest_module.next_checkpoint_interval(20.0) == 180.0


def test_a_files_result_crosses_processes_whole(tmp_path: Path) -> None:
    import dataclasses
    import pickle

    from graphtrail.ingest import read_log_file
    from graphtrail.sources.files import LogFile, iter_log_files
    from graphtrail.sources.limits import ReadLimits

    # An STS call (an issuance), a record without userIdentity and a line that is not JSON (problems).
    records = load_records(STRATUS / "aws.defense-evasion.organizations-leave.json")
    lines = [orjson.dumps(record) for record in records] + [b'{"eventTime": "2024-01-01T00:00:00Z"}', b"{not json"]
    (tmp_path / "mixed.jsonl").write_bytes(b"\n".join(lines))
    results = [
        read_log_file(item, ReadLimits()) for item in iter_log_files([str(tmp_path)]) if isinstance(item, LogFile)
    ]
    assert len(results) == 1
    assert results[0].issuances and results[0].problems and results[0].rows and results[0].frame
    again = pickle.loads(pickle.dumps(results, protocol=5))
    assert [dataclasses.replace(result, graph=None) for result in again] == [
        dataclasses.replace(result, graph=None) for result in results
    ]
    assert again[0].graph.nodes == results[0].graph.nodes and again[0].graph.edges == results[0].graph.edges
