"""Remove secrets from a raw record before anything keeps it.

STS responses log the session token; a few services log other secret material. graphtrail never stores,
prints or exports them, so they are cut at the door: anywhere in the record, under any spelling of the key,
and inside JSON that an export flattened into a string (CloudTrail Lake's map<string,string> columns).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from graphtrail.memo import ByteBudgetMemo

REDACTED = "<redacted by graphtrail>"

# Keys whose value is secret material. Matching is on the lower-cased key; see is_secret_key for the rest.
_SECRET_KEYS = frozenset(
    {
        "sessiontoken",
        "secretaccesskey",
        "secretkey",
        "privatekey",
        "keymaterial",
        "secretstring",
        "secretbinary",
        "tokenvalue",
        "samlassertion",
        "samlresponse",
        "clientsecret",
        "passphrase",
    }
)
# Keys ending in "token" that name pagination or idempotency handles, not credentials.
_HARMLESS_TOKENS = frozenset({"nexttoken", "continuationtoken", "paginationtoken", "clienttoken", "idempotencytoken"})
# A fragment of those keys (see _has_fragment) in the position of a key: `"…token":`, `\"…token\":` in JSON
# held in a string, `…token=` in Trino's rendering. Values such as an ARN naming a secret do not count, nor
# keys like secretId or httpTokens.
_KEY_WITH_FRAGMENT = re.compile(
    rb'(?:token|secret|password|privatekey|keymaterial|saml|passphrase)[a-z0-9_]{0,40}(?:\\?"\s*:|\s*=)'
)
_KEY_START = re.compile(rb"[a-z0-9_]{0,40}$")


def is_secret(key: str, value: Any) -> bool:
    """Whether `value`, stored under `key`, is secret material.

    Exact key names always are; keys that merely contain "password" or end in "token" are when they hold
    text (``masterUserPassword`` is, ``passwordResetRequired: false`` is not).
    """
    if value in (None, "", {}, []):
        return False
    lowered = key.lower()
    if lowered in _SECRET_KEYS:
        return True
    if not isinstance(value, str):
        return False
    return "password" in lowered or (lowered.endswith("token") and lowered not in _HARMLESS_TOKENS)


def redact_secrets(value: Any) -> Any:
    """Replace, in place, every secret in `value` (dicts, lists, and JSON held in strings); returns `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and is_secret(key, item):
                value[key] = REDACTED
            elif isinstance(item, (dict, list)):
                redact_secrets(item)
            elif isinstance(item, str) and _may_hide_secret(item):
                value[key] = _redact_text(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)):
                redact_secrets(item)
            elif isinstance(item, str) and _may_hide_secret(item):
                value[index] = _redact_text(item)
    return value


# A secret key followed by its value, as text: `sessionToken=…`, `"password": …` (Trino maps, query strings).
_SECRET_ASSIGNMENT = re.compile(
    r"(session_?token|secret_?access_?key|secret_?key|password|passphrase|private_?key|key_?material"
    r"|client_?secret|saml_?(assertion|response)|token_?value|access_?token|refresh_?token|id_?token"
    r"|web_?identity_?token)[\"']?\s*[=:]",
    re.IGNORECASE,
)


def _may_hide_secret(text: str) -> bool:
    """Cheap test: a string that could hold a structure (JSON, key=value) naming a secret."""
    if "{" not in text and "[" not in text and "=" not in text:
        return False
    return _has_fragment(text.lower().encode("utf-8", "replace"))


def _redact_text(text: str) -> str:
    """A string holding a structure that names a secret: redact inside it, or drop it when it cannot be parsed.

    Plain values that merely mention a word (an ARN of a Secrets Manager secret) are left alone.
    """
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            return orjson.dumps(redact_secrets(parsed)).decode()
    return REDACTED if _SECRET_ASSIGNMENT.search(text) else text


def _names_a_secret_key(lowered_json: bytes) -> bool:
    for match in _KEY_WITH_FRAGMENT.finditer(lowered_json):
        head = _KEY_START.search(lowered_json, max(0, match.start() - 40), match.start())
        name = (head.group() if head else b"") + match.group().rstrip(b'\\": =\t')
        if is_secret(name.decode("ascii", "replace"), "text"):
            return True
    return False


# Top-level fields CloudTrail defines as plain values that carry no secret material; every other field
# (the payload blocks, userIdentity, anything unknown, and any field holding a structure) is checked.
_PLAIN_FIELDS = frozenset(
    {
        "eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent",
        "errorCode", "requestID", "eventID", "readOnly", "eventType", "apiVersion", "managementEvent",
        "recipientAccountId", "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "eventCategory",
        "sessionCredentialFromConsole",
    }
)  # fmt: skip
# Identical blocks recur (the same caller's userIdentity, the same KMS request thousands of times): each
# serialized block's verdict is remembered.
_VERDICTS: ByteBudgetMemo[bool] = ByteBudgetMemo(16 << 20)


def redacted_json(record: dict[str, Any]) -> bytes:
    """The record as JSON bytes with secrets replaced (the record is redacted in place when it had any).

    Most records name nothing secret anywhere: one look at the whole serialized record clears them. Otherwise
    each structured field is serialized and searched for a secret-named key; only a field that has one is
    walked.
    """
    whole = orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)
    if whole.isascii() and not _has_fragment(whole.lower()):  # non-ASCII text may lower-case into a fragment
        return whole
    for key in record.keys() - _PLAIN_FIELDS:
        value = record[key]
        if isinstance(value, (dict, list)):
            if value and _block_names_a_secret(value):
                record[key] = redact_secrets(value)
        elif isinstance(value, str) and _may_hide_secret(value):
            record[key] = _redact_text(value)
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)


def _block_names_a_secret(block: dict[str, Any] | list[Any]) -> bool:
    blob = orjson.dumps(block, option=orjson.OPT_NON_STR_KEYS)
    verdict = _VERDICTS.get(blob)
    if verdict is None:
        lowered = blob.lower()
        verdict = _has_fragment(lowered) and _names_a_secret_key(lowered)
        _VERDICTS.put(blob, verdict)
    return verdict


def _has_fragment(lowered: bytes) -> bool:
    return (
        b"token" in lowered
        or b"secret" in lowered
        or b"password" in lowered
        or b"privatekey" in lowered
        or b"keymaterial" in lowered
        or b"saml" in lowered
        or b"passphrase" in lowered
    )
