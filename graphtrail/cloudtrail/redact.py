"""Remove secrets from a raw record before anything keeps it.

STS responses log the session token; a few services log other secret material. graphtrail never stores,
prints or exports them, so they are cut at the door.
"""

from __future__ import annotations

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


def redacted_json(record: dict[str, Any]) -> bytes:
    """The record as JSON bytes with secrets replaced (the record is redacted in place).

    Only the payload blocks are walked: that is where secrets appear, and walking the whole record for
    every event would cost more than parsing it.
    """
    for key in _PAYLOAD_KEYS:
        block = record.get(key)
        if block:
            redact_secrets(block)
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)
