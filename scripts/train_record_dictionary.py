"""Train the zstd dictionary that compresses each stored event (graphtrail/data/cloudtrail-records.zdict).

A CloudTrail record is ~1-2 KB of mostly repeated keys; alone it compresses poorly and slowly, with a
dictionary of those keys it shrinks to ~15% in a few microseconds. The dictionary is trained once on the
public records in tests/data and shipped; cases name it, so a future one can sit beside it.

    .venv/bin/python scripts/train_record_dictionary.py
"""

from __future__ import annotations

import json
from pathlib import Path

import zstandard

from graphtrail.cloudtrail.redact import redacted_json

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "cloudtrail"
OUT = ROOT / "graphtrail" / "data" / "cloudtrail-records.zdict"


def samples() -> list[bytes]:
    found = []
    for path in sorted(DATA.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        records = data.get("Records") if isinstance(data, dict) else data
        if isinstance(records, list):
            # Redacted first: the dictionary ships with the package and must hold no session token.
            found.extend(redacted_json(record) for record in records if isinstance(record, dict))
    return found


def main() -> None:
    records = samples()
    dictionary = zstandard.train_dictionary(16384, records, level=3, threads=1)
    OUT.write_bytes(dictionary.as_bytes())
    print(f"trained on {len(records)} records: {OUT} ({OUT.stat().st_size} bytes, id {dictionary.dict_id()})")


if __name__ == "__main__":
    main()
