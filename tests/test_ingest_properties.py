"""Whatever lands in a folder of logs, ingest finishes and accounts for every record."""

from __future__ import annotations

import copy
import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphtrail.ingest import ingest_paths
from tests.conftest import STRATUS, load_records

REAL = [record for path in sorted(STRATUS.glob("*.json"))[:12] for record in load_records(path)]

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=30)
junk = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=6,
)
FIELDS = ["eventTime", "eventID", "eventName", "userIdentity", "requestParameters", "responseElements",
          "sourceIPAddress", "recipientAccountId", "errorCode", "resources", "sharedEventID"]  # fmt: skip


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record = copy.deepcopy(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(0, 3))):
        record[draw(st.sampled_from(FIELDS))] = draw(junk)
    return record


@st.composite
def log_files(draw: st.DrawFn) -> bytes:
    batch = draw(st.lists(records(), max_size=6))
    shape = draw(st.sampled_from(["records", "array", "jsonl", "garbage", "truncated-gzip"]))
    # The standard library writes what orjson refuses (integers past 64 bits), as a hostile file could hold.
    if shape == "records":
        data = json.dumps({"Records": batch}).encode()
    elif shape == "array":
        data = json.dumps(batch).encode()
    elif shape == "jsonl":
        data = b"\n".join(json.dumps(r).encode() for r in batch)
    elif shape == "garbage":
        data = draw(st.binary(max_size=200))
    else:
        whole = gzip.compress(json.dumps({"Records": batch}).encode())
        data = whole[: draw(st.integers(0, len(whole)))]
    return gzip.compress(data) if draw(st.booleans()) and shape != "truncated-gzip" else data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(log_files(), min_size=1, max_size=4))
def test_ingest_of_mangled_logs_never_raises_and_balances(files: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "logs"
        folder.mkdir()
        for index, data in enumerate(files):
            (folder / f"{index}.json").write_bytes(data)
        first = ingest_paths([str(folder)], Path(tmp) / "c.case", workers=1)
        assert first.balanced
        again = ingest_paths([str(folder)], Path(tmp) / "c.case", workers=1)
        assert again.events_ingested == 0 and again.balanced
