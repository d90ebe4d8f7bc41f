"""Remove secrets from a raw record before anything keeps it.

STS responses log the session token; a few services log other secret material. graphtrail never stores,
prints or exports them, so they are cut at the door: anywhere in the record, under any spelling of the key,
and inside JSON that an export flattened into a string (CloudTrail Lake's map<string,string> columns).
The rules live in one place, the compiled walk of `native/src/redact.rs`: it runs on every record, and in
Python it took a fifth of an ingest worker's time.
"""

from __future__ import annotations

from typing import Any

import orjson

from graphtrail._native import REDACTED, redact_record, redact_secrets

__all__ = ["REDACTED", "redact_secrets", "redacted_json"]


def redacted_json(record: dict[str, Any]) -> bytes:
    """The record as JSON bytes with secrets replaced (the record is redacted in place when it had any)."""
    return orjson.dumps(redact_record(record), option=orjson.OPT_NON_STR_KEYS)
