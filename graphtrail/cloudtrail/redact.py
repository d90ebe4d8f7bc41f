"""Remove secrets from a raw record before anything keeps it.

STS responses log the session token; a few services log other secret material. graphtrail never stores,
prints or exports them, so they are cut at the door: anywhere in the record, under any spelling of the key,
and inside JSON that an export flattened into a string (CloudTrail Lake's map<string,string> columns).
The rules live in one place, the compiled walk of `native/src/redact.rs`: it runs on every record, and in
Python it took a fifth of an ingest worker's time.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from graphtrail._native import REDACTED, redact_record, redact_secrets, redacted_record_json, redacted_value_json

__all__ = ["REDACTED", "RedactedRecord", "redact_secrets", "redacted_record", "redacted_value_json"]


class RedactedRecord(NamedTuple):
    json: bytes  # the record, secrets replaced: what the case stores
    identity_json: bytes | None  # its userIdentity block as written in `json`, or None


def redacted_record(record: dict[str, Any]) -> RedactedRecord:
    """The record as JSON with secrets replaced; the record itself is redacted in place.

    Written in one pass with the redaction (`native/src/record_json.rs`), byte for byte what orjson writes;
    a record holding what no log parser yields (keys that are not text, integers past 64 bits) takes
    orjson's path, which raises TypeError or orjson.JSONEncodeError for what it cannot write.
    """
    written = redacted_record_json(record)
    if written is None:
        return RedactedRecord(orjson.dumps(redact_record(record), option=orjson.OPT_NON_STR_KEYS), None)
    json, start, end = written
    return RedactedRecord(json, json[start:end] if end else None)
