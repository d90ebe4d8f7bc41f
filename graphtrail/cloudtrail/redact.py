"""Remove secrets from a raw record before anything keeps it.

STS responses log the session token; a few services log other secret material. graphtrail never stores,
prints or exports them, so they are cut at the door.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

REDACTED = "<redacted by graphtrail>"
_SECRET_KEYS = frozenset(
    {
        "sessiontoken",
        "secretaccesskey",
        "password",
        "newpassword",
        "oldpassword",
        "privatekey",
        "keymaterial",
        "secretstring",
        "secretbinary",
        "tokenvalue",
        "samlassertion",
        "webidentitytoken",
        "clientsecret",
        "refreshtoken",
        "accesstoken",
    }
)


def redact_secrets(value: Any) -> Any:
    """Replace, in place, every value stored under a secret-bearing key; returns `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in _SECRET_KEYS and item not in (None, "", {}):
                value[key] = REDACTED
            elif isinstance(item, (dict, list)):
                redact_secrets(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                redact_secrets(item)
    return value


# Where CloudTrail puts what a call sent and got back; secrets live only there.
_PAYLOAD_KEYS = ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails")
# A secret key as it appears in lower-cased JSON; searching the serialized block is cheaper than walking it.
_SECRET_KEY_JSON = re.compile(b'"(?:' + b"|".join(re.escape(key.encode()) for key in sorted(_SECRET_KEYS)) + b')"')


def redacted_json(record: dict[str, Any]) -> bytes:
    """The record as JSON bytes with secrets replaced (the record is redacted in place).

    Only the payload blocks can hold secrets; each is walked only when its JSON names a secret key.
    """
    for key in _PAYLOAD_KEYS:
        block = record.get(key)
        if block and isinstance(block, (dict, list)):
            blob = orjson.dumps(block, option=orjson.OPT_NON_STR_KEYS)
            if _SECRET_KEY_JSON.search(blob.lower()) is not None:
                redact_secrets(block)
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)
