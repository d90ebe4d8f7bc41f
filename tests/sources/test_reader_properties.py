"""read_records never raises, whatever the bytes: random input and damaged real records only ever become
records, rejects, skips or notices, and the accounting stays consistent."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from graphtrail.sources import Notice, RawRecord, ReadLimits, Rejected, SkippedFile, read_records

DATA = Path(__file__).parent.parent / "data" / "cloudtrail"
SHAPES = {"records", "array", "jsonl", "lookup-events", "eventbridge", "cloudwatch-logs", "lake", "siem", "single"}
SMALL = ReadLimits(max_file_bytes=20_000, max_record_bytes=1_500)


def _seed_records() -> list[dict[str, Any]]:
    invictus = sorted((DATA / "invictus-ir-aws-dataset" / "CloudTrail").glob("*.json"))[0]
    stratus = DATA / "stratus-red-team-detonation-logs" / "detonation-logs" / "aws.persistence.iam-backdoor-user.json"
    return json.loads(invictus.read_bytes())["Records"][:2] + json.loads(stratus.read_bytes())[:1]


def _seeds() -> list[bytes]:
    """Real records serialized in every layout the reader knows."""
    records = _seed_records()
    one = records[0]
    payload = {"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "message": json.dumps(r)} for r in records]}
    return [
        json.dumps({"Records": records}).encode(),
        json.dumps({"Records": records}, indent=2).encode(),
        json.dumps(records, indent=4).encode(),
        b"\n".join(json.dumps(r).encode() for r in records) + b"\n",
        json.dumps({"Events": [{"EventId": "x", "CloudTrailEvent": json.dumps(r)} for r in records]}).encode(),
        json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": one}).encode(),
        json.dumps(payload).encode(),
        json.dumps(
            {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}
        ).encode(),
        json.dumps(
            {"QueryResultRows": [[{k: json.dumps(v) if isinstance(v, dict) else str(v)} for k, v in one.items()]]}
        ).encode(),
        json.dumps({"hits": {"hits": [{"_source": {"@timestamp": one["eventTime"], "eventName": "x"}}]}}).encode(),
        "\n".join(json.dumps(r, indent=1) for r in records).encode(),
    ]


SEEDS = _seeds()
NASTY = [
    b"\xff",
    b"\xc3",
    b"\\ud800",
    b"\x00",
    b'"',
    b",",
    b"]",
    b"}",
    b"{",
    b"[",
    b"\n",
    b"NaN",
    b"1e99999",
    b"\x1f\x8b",
]


def assert_well_formed(items: list[Any]) -> None:
    for item in items:
        assert isinstance(item, RawRecord | Rejected | SkippedFile | Notice), type(item)
        if isinstance(item, RawRecord):
            assert type(item.data) is dict
            assert item.shape in SHAPES
        if isinstance(item, Rejected):
            assert item.reason != "reader-error", item.detail  # a reader-error is a bug, not bad input
            assert item.reason and item.detail
    slots = [
        item for item in items if isinstance(item, RawRecord) or (isinstance(item, Rejected) and not item.whole_file)
    ]
    indexes = [item.origin.index for item in slots]
    assert indexes == list(range(len(indexes)))  # every record slot counted once, in order
    if any(isinstance(item, Rejected) and item.whole_file for item in items):
        assert not any(isinstance(item, RawRecord) for item in items)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    gzip_first = draw(st.booleans())
    if gzip_first:
        data = bytearray(gzip.compress(bytes(data)))
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "truncate":
            del data[position:]
        elif operation == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif operation == "insert":
            data[position:position] = draw(st.sampled_from(NASTY) | st.binary(min_size=1, max_size=8))
        else:
            del data[position : position + draw(st.integers(1, 64))]
    if not gzip_first and draw(st.booleans()):
        data = bytearray(gzip.compress(bytes(data)))
    return bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.booleans())
def test_random_bytes_never_raise(data: bytes, small: bool) -> None:
    assert_well_formed(list(read_records("random.bin", data, SMALL if small else ReadLimits())))


@settings(max_examples=200, deadline=None)
@given(damaged(), st.booleans())
def test_damaged_real_records_never_raise(data: bytes, small: bool) -> None:
    assert_well_formed(list(read_records("damaged.json", data, SMALL if small else ReadLimits())))


def test_undamaged_seeds_read_cleanly() -> None:
    for seed in SEEDS:
        for data in (seed, gzip.compress(seed)):
            items = list(read_records("seed.json", data))
            assert_well_formed(items)
            assert items and all(isinstance(item, RawRecord) for item in items), items[:1]
