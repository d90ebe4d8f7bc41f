"""Remove secrets from a raw record before anything keeps it.

STS responses log the session token; a few services log other secret material. graphtrail never stores,
prints or exports them, so they are cut at the door.
"""

from __future__ import annotations

from typing import Any

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
