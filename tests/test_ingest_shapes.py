"""Every way CloudTrail reaches a responder ingests to the same events and the same graph."""

from __future__ import annotations

import base64
import gzip
import io
import sqlite3
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from graphtrail.case import unpack_records
from graphtrail.ingest import ingest_paths
from tests.conftest import INVICTUS, STRATUS, load_records

ACCOUNT = "123837392027"


def _sample() -> list[dict[str, Any]]:
    """Real records with sessions, STS responses (tokens included) and failures."""
    files = sorted(INVICTUS.glob("*.json"))[10:14]
    records = [record for path in files for record in load_records(path)]
    return records + load_records(STRATUS / "aws.persistence.sts-federation-token.json")


def _dump(value: Any) -> bytes:
    return orjson.dumps(value)


def _records_gz(tmp: Path, records: list[dict]) -> list[str]:
    folder = tmp / "AWSLogs" / "o-abc123def4" / ACCOUNT / "CloudTrail" / "us-east-1" / "2023" / "07" / "10"
    folder.mkdir(parents=True)
    half = len(records) // 2
    for index, part in enumerate((records[:half], records[half:])):
        name = f"{ACCOUNT}_CloudTrail_us-east-1_20230710T12{index}0Z_abcdefgh1234567{index}.json.gz"
        (folder / name).write_bytes(gzip.compress(_dump({"Records": part})))
    digest = tmp / "AWSLogs" / "o-abc123def4" / ACCOUNT / "CloudTrail-Digest" / "us-east-1" / "2023" / "07" / "10"
    digest.mkdir(parents=True)
    (digest / f"{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T130000Z.json.gz").write_bytes(
        gzip.compress(_dump({"awsAccountId": ACCOUNT, "digestStartTime": "x", "logFiles": []}))
    )
    return [str(tmp / "AWSLogs")]


def _array(tmp: Path, records: list[dict]) -> list[str]:
    (tmp / "events.json").write_bytes(_dump(records))
    return [str(tmp / "events.json")]


def _jsonl_gz(tmp: Path, records: list[dict]) -> list[str]:
    (tmp / "events.jsonl.gz").write_bytes(gzip.compress(b"\n".join(_dump(r) for r in records)))
    return [str(tmp / "events.jsonl.gz")]


def _lookup_events(tmp: Path, records: list[dict]) -> list[str]:
    page = {
        "Events": [
            {"EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": _dump(r).decode()}
            for r in records
        ]
    }
    (tmp / "lookup.json").write_bytes(_dump(page))
    return [str(tmp / "lookup.json")]


def _eventbridge(tmp: Path, records: list[dict]) -> list[str]:
    lines = [
        _dump({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.x", "detail": record})
        for record in records
    ]
    (tmp / "eventbridge.jsonl").write_bytes(b"\n".join(lines))
    return [str(tmp / "eventbridge.jsonl")]


def _cloudwatch_logs(tmp: Path, records: list[dict]) -> list[str]:
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "CloudTrail",
        "logStream": f"{ACCOUNT}_CloudTrail_us-east-1",
        "logEvents": [{"id": str(i), "timestamp": 0, "message": _dump(r).decode()} for i, r in enumerate(records)],
    }
    wrapped = {"awslogs": {"data": base64.b64encode(gzip.compress(_dump(payload))).decode()}}
    (tmp / "lambda-event.json").write_bytes(_dump(wrapped))
    return [str(tmp / "lambda-event.json")]


def _siem(tmp: Path, records: list[dict]) -> list[str]:
    hits = []
    for record in records:
        renamed = {("@timestamp" if key == "eventTime" else key): value for key, value in record.items()}
        hits.append({"_index": "cloudtrail", "_source": renamed})
    (tmp / "elastic.json").write_bytes(_dump({"hits": {"hits": hits}}))
    return [str(tmp / "elastic.json")]


def _zip(tmp: Path, records: list[dict]) -> list[str]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("logs/a.json.gz", gzip.compress(_dump({"Records": records})))
        archive.writestr("README.txt", "sent by the customer")
    (tmp / "customer.zip").write_bytes(buffer.getvalue())
    return [str(tmp / "customer.zip")]


def _tar_gz(tmp: Path, records: list[dict]) -> list[str]:
    with tarfile.open(tmp / "logs.tar.gz", "w:gz") as archive:
        data = _dump({"Records": records})
        info = tarfile.TarInfo("AWSLogs/x.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return [str(tmp / "logs.tar.gz")]


SHAPES: dict[str, Callable[[Path, list[dict]], list[str]]] = {
    "array": _array,
    "jsonl-gz": _jsonl_gz,
    "lookup-events": _lookup_events,
    "eventbridge": _eventbridge,
    "cloudwatch-logs": _cloudwatch_logs,
    "siem": _siem,
    "zip": _zip,
    "tar-gz": _tar_gz,
}


def _content(case: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(case)
    try:
        return {
            "events": db.execute(
                "SELECT event_id, time, name, actor, access_key, source_ip, error_code, target FROM events ORDER BY event_id"
            ).fetchall(),
            "nodes": db.execute("SELECT key, kind, first_seen, last_seen, props FROM nodes ORDER BY key").fetchall(),
            "edges": db.execute(
                "SELECT src, type, dst, count, error_count, props FROM edges ORDER BY src, type, dst"
            ).fetchall(),
            "lineage": db.execute("SELECT * FROM key_lineage ORDER BY access_key_id").fetchall(),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """The S3 delivery layout of an organization trail, digest file included."""
    tmp = tmp_path_factory.mktemp("reference")
    summary = ingest_paths(_records_gz(tmp, _sample()), tmp / "reference.case")
    assert summary.files_skipped == {"digest": 1}
    assert summary.events_ingested == len(_sample())
    return _content(tmp / "reference.case")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shape_ingests_to_the_same_case_as_the_s3_layout(shape: str, tmp_path: Path, reference: dict) -> None:
    paths = SHAPES[shape](tmp_path, _sample())
    summary = ingest_paths(paths, tmp_path / f"{shape}.case")
    assert summary.balanced and summary.records_rejected == 0
    assert _content(tmp_path / f"{shape}.case") == reference


def test_lake_rows_with_string_values_ingest_to_the_same_events(tmp_path: Path, reference: dict) -> None:
    rows = []
    for record in _sample():
        row = []
        for key, value in record.items():
            if key == "eventTime":
                value = value.replace("T", " ").replace("Z", ".000")  # Lake's timestamp text
            text = value if isinstance(value, str) else _dump(value).decode()
            row.append({key.lower(): text})
        rows.append(row)
    (tmp_path / "lake.json").write_bytes(_dump({"QueryStatus": "FINISHED", "QueryResultRows": rows}))
    summary = ingest_paths([str(tmp_path / "lake.json")], tmp_path / "lake.case")
    assert summary.balanced and summary.records_rejected == 0
    content = _content(tmp_path / "lake.case")
    assert content["events"] == reference["events"]
    assert content["lineage"] == reference["lineage"]


def test_lake_map_columns_with_stringified_objects_keep_lineage(tmp_path: Path, reference: dict) -> None:
    """Lake's requestparameters/responseelements are map<string,string>: ``credentials`` is JSON text."""
    assert b"IQoJb3JpZ2lu" in _dump(_sample())  # the sample's STS responses carry session tokens
    rows = []
    for record in _sample():
        row = []
        for key, value in record.items():
            if key in ("requestParameters", "responseElements", "additionalEventData") and isinstance(value, dict):
                value = {name: item if isinstance(item, str) else _dump(item).decode() for name, item in value.items()}
            text = value if isinstance(value, str) else _dump(value).decode()
            row.append({key.lower(): text})
        rows.append(row)
    (tmp_path / "lake.json").write_bytes(_dump({"QueryResultRows": rows}))
    summary = ingest_paths([str(tmp_path / "lake.json")], tmp_path / "lake.case")
    assert summary.balanced and summary.records_rejected == 0
    content = _content(tmp_path / "lake.case")
    assert content["lineage"] == reference["lineage"]
    with sqlite3.connect(tmp_path / "lake.case") as db:
        stored = b"".join(b"".join(unpack_records(frame)) for (frame,) in db.execute("SELECT frame FROM records"))
    assert b"IQoJb3JpZ2lu" not in stored  # the session tokens in the sample's STS responses
