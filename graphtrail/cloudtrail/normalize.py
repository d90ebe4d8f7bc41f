"""Raw CloudTrail record → `Event`. Every top-level field is interpreted here and nowhere else."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from graphtrail.cloudtrail.event import (
    Event,
    Fields,
    IssuedCredential,
    Principal,
    ResourceRef,
    as_flag,
    text_field,
    text_fields,
)
from graphtrail.cloudtrail.identity import resolve_principal
from graphtrail.cloudtrail.redact import redacted_record, redacted_value_json
from graphtrail.cloudtrail.timeparse import format_time, parse_time
from graphtrail.errors import RecordRejected
from graphtrail.ipaddr import parse_source_ip
from graphtrail.memo import ByteBudgetMemo

# STS calls whose response hands out a temporary key.
ISSUING_EVENTS = frozenset(
    {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken", "GetFederationToken"}
)
_TIME_FIELDS = ("eventTime", "@timestamp", "timestamp")


def normalize_record(data: dict[str, Any]) -> Event:
    """Interpret one raw record. Raises RecordRejected (with a countable reason) for what is not an event.

    The record's secrets are redacted in place first, so nothing downstream ever sees a session token.
    """
    if not isinstance(data, dict):
        raise RecordRejected("not-an-object", type(data).__name__)
    if "eventName" not in data and "eventTime" not in data:
        data = restore_key_spelling(data)
    try:
        record_json, identity_json = redacted_record(data)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise RecordRejected("unserializable", str(exc)[:100]) from None

    raw_time = data.get("eventTime")
    if raw_time in (None, ""):
        raw_time = data.get("@timestamp") or data.get("timestamp")
    if raw_time in (None, ""):
        raise RecordRejected("missing-eventTime", "the record has no eventTime")
    try:
        time, when = _event_time(raw_time) if isinstance(raw_time, str) else _parse_and_format(raw_time)
    except (ValueError, OverflowError, OSError, TypeError) as exc:
        raise RecordRejected("bad-eventTime", str(exc)) from None

    (event_type, category, name, source, region, given_id, source_ip, error_code, error_message, recipient,
     user_agent, shared_event_id, request_id, vpc_endpoint_id, version) = text_fields(data, _TEXT_FIELDS)  # fmt: skip
    identity = data.get("userIdentity")
    insight = data.get("insightDetails")
    if not isinstance(insight, dict):
        insight = _NOTHING
    if event_type == "AwsCloudTrailInsight" or category == "Insight" or (insight and not identity):
        category = "Insight"
    elif category is None:
        management = data.get("managementEvent")
        category = "Data" if management is False or str(management).lower() == "false" else "Management"

    if name is None and category == "Insight":
        name = text_field(insight, "eventName")
    if name is None:
        raise RecordRejected("missing-eventName", "the record has no eventName")
    if source is None:
        source = (text_field(insight, "eventSource") if category == "Insight" else None) or ""

    if category == "Insight":
        principal = _INSIGHTS
        identity = _NOTHING
    else:
        if not isinstance(identity, dict) or not identity:
            raise RecordRejected("missing-userIdentity", "the record has no userIdentity")
        principal = _principal(identity, region, identity_json)

    event_id = _event_id(data, given_id)
    ips, service = _source_ip(source_ip)
    access_key = text_field(identity, "accessKeyId")
    request = Fields(data.get("requestParameters"))
    response = Fields(data.get("responseElements"))
    if error_code is None and name in _SIGN_IN_RESULTS and response.get(name) == "Failure":
        # Failed sign-ins carry no errorCode, only responseElements.{ConsoleLogin|CheckMfa}: "Failure".
        error_code = error_message or "Failure"
    return Event(
        event_id=event_id,
        time=time,
        when=when,
        name=name,
        source=source,
        region=region,
        account=recipient or principal.account,
        principal=principal,
        access_key_id=access_key,
        source_ip=ips[0] if ips else None,
        source_ips=ips,
        source_service=service,
        user_agent=user_agent,
        error_code=error_code,
        error_message=error_message,
        read_only=as_flag(data.get("readOnly")),
        category=category,
        event_type=event_type,
        shared_event_id=shared_event_id,
        request_id=request_id,
        vpc_endpoint_id=vpc_endpoint_id,
        version=version,
        resources=_resources(data.get("resources")),
        console_session=as_flag(data.get("sessionCredentialFromConsole")) is True,
        issued=_issued_credential(name, error_code, request, response, access_key, principal.key, principal.kind),
        request=request,
        response=response,
        additional=Fields(data.get("additionalEventData")),
        record_json=record_json,
    )


def normalize_copy(
    template: Event,
    event_id: str,
    when: str,
    request_id: str | None,
    shared_event_id: str | None,
    pieces: Sequence[bytes],
    blocks: Sequence[tuple[str, Any]],
) -> Event | None:
    """The Event of a record equal to `template`'s but for its ids, time and parameter blocks (see
    `graphtrail.recurring`): its blocks are redacted and read here as `normalize_record` reads them, the
    rest is the template's. `blocks` are the record's (field, parsed value) in the order they come in it,
    and its stored JSON is `pieces` with their redacted JSON in between.

    None when the record must be read whole instead: an id that is not a GUID (it would get a hash of the
    whole record), or a block holding what only orjson's path may judge.
    """
    if not _GUID.match(event_id):
        return None
    values: dict[str, Any] = {}
    parts: list[bytes] = [pieces[0]]
    for (name, value), piece in zip(blocks, pieces[1:], strict=True):
        written = redacted_value_json(value)  # redacts `value` in place, as the whole record's walk would
        if written is None:
            return None
        json, replacement = written
        values[name] = value if replacement is None else replacement
        parts += (json, piece)
    time, when = _event_time(when)
    request = Fields(values["requestParameters"]) if "requestParameters" in values else template.request
    principal = template.principal
    issued = _issued_credential(
        template.name, template.error_code, request, template.response, template.access_key_id, principal.key,
        principal.kind,
    )  # fmt: skip
    fields = list(template)  # `_replace` with keywords took 3.4 µs; this, under one
    fields[_EVENT_ID], fields[_TIME], fields[_WHEN], fields[_REQUEST_ID], fields[_SHARED_EVENT_ID] = (
        event_id, time, when, request_id, shared_event_id,
    )  # fmt: skip
    fields[_REQUEST] = request
    if "additionalEventData" in values:
        fields[_ADDITIONAL] = Fields(values["additionalEventData"])
    if "resources" in values:
        fields[_RESOURCES] = _resources(values["resources"])
    fields[_ISSUED] = issued
    fields[_RECORD_JSON] = b"".join(parts)
    return Event._make(fields)


# Where normalize_copy puts a copy's own values among an Event's fields.
(_EVENT_ID, _TIME, _WHEN, _REQUEST_ID, _SHARED_EVENT_ID, _REQUEST, _ADDITIONAL, _RESOURCES, _ISSUED, _RECORD_JSON) = (
    Event._fields.index(name)
    for name in ("event_id", "time", "when", "request_id", "shared_event_id", "request", "additional", "resources",
                 "issued", "record_json")
)  # fmt: skip


_NOTHING: dict[str, Any] = {}
# The top-level fields read as text, in the order normalize_record unpacks them.
_TEXT_FIELDS = (
    "eventType", "eventCategory", "eventName", "eventSource", "awsRegion", "eventID", "sourceIPAddress", "errorCode",
    "errorMessage", "recipientAccountId", "userAgent", "sharedEventID", "requestID", "vpcEndpointId", "eventVersion",
)  # fmt: skip
_SIGN_IN_RESULTS = frozenset({"ConsoleLogin", "CheckMfa"})
_INSIGHTS = Principal(kind="Service", key="cloudtrail.amazonaws.com", identity_type="Insight")


# CloudTrail's own spelling of the keys the normalizer reads, to undo exports that lower-cased them (Lake).
def _spelling(names: str) -> dict[str, str]:
    return {name.lower(): name for name in names.split()}


_TOP_LEVEL = _spelling(
    "eventVersion userIdentity eventTime eventSource eventName awsRegion sourceIPAddress userAgent errorCode "
    "errorMessage requestParameters responseElements additionalEventData requestID eventID readOnly resources "
    "eventType apiVersion managementEvent recipientAccountId sharedEventID vpcEndpointId vpcEndpointAccountId "
    "serviceEventDetails eventCategory insightDetails addendum sessionCredentialFromConsole edgeDeviceDetails "
    "tlsDetails eventContext"
)
_IDENTITY = _spelling(
    "type principalId arn accountId accessKeyId userName sessionContext invokedBy identityProvider onBehalfOf "
    "credentialId inScopeOf invokedByDelegate sessionIssuer webIdFederationData attributes sourceIdentity "
    "ec2RoleDelivery ec2IssuedInVPC assumedRoot signInSessionArn creationDate mfaAuthenticated userId "
    "identityStoreArn sourceArn sourceAccount issuerType credentialsIssuedTo"
)
_RESOURCE = _spelling("ARN accountId type")
_IDENTITY_BLOCKS = frozenset(
    {"userIdentity", "sessionContext", "sessionIssuer", "attributes", "onBehalfOf", "inScopeOf"}
)


def restore_key_spelling(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of `record` whose known keys have CloudTrail's spelling again (identity blocks and resources too)."""
    restored = _respell(record, _TOP_LEVEL)
    identity = restored.get("userIdentity")
    if isinstance(identity, dict):
        restored["userIdentity"] = _respell_identity(identity)
    resources = restored.get("resources")
    if isinstance(resources, list):
        restored["resources"] = [_respell(item, _RESOURCE) if isinstance(item, dict) else item for item in resources]
    return restored


def _respell_identity(block: dict[str, Any]) -> dict[str, Any]:
    restored = _respell(block, _IDENTITY)
    for key, value in restored.items():
        if key in _IDENTITY_BLOCKS and isinstance(value, dict):
            restored[key] = _respell_identity(value)
    return restored


def _respell(block: dict[str, Any], spelling: dict[str, str]) -> dict[str, Any]:
    return {(spelling.get(key.lower(), key) if isinstance(key, str) else key): value for key, value in block.items()}


def _parse_and_format(value: Any) -> tuple[datetime, str]:
    time = parse_time(value)
    return time, format_time(time)


# CloudTrail's own form of eventTime is already the case's (format_time): it is kept as it is.
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# Other forms (exports, Lake) are parsed once per distinct value.
_parse_once = lru_cache(maxsize=1 << 12)(_parse_and_format)


def _event_time(text: str) -> tuple[datetime, str]:
    """Nearly every event has a second of its own, so a memo of times missed; a check of the form does not."""
    if len(text) == 20 and _CANONICAL_TIME.fullmatch(text):
        return datetime.fromisoformat(text), text
    return _parse_once(text)


_PRINCIPALS: ByteBudgetMemo[Principal] = ByteBudgetMemo(16 << 20)


def _principal(identity: dict[str, Any], region: str | None, identity_json: bytes | None) -> Principal:
    """Resolve a userIdentity block, remembering the answer: the same caller signs thousands of events.

    The memo's key is the block's exact JSON (and the Region), so two blocks share a Principal only when
    they are identical. The JSON is the block as the stored record holds it, when the writer said where.
    """
    try:
        key = (identity_json or orjson.dumps(identity)) + (region or "").encode()
    except (TypeError, orjson.JSONEncodeError):
        return resolve_principal(identity, region=region)
    principal = _PRINCIPALS.get(key)
    if principal is None:
        principal = resolve_principal(identity, region=region)
        _PRINCIPALS.put(key, principal)
    return principal


@lru_cache(maxsize=1 << 16)
def _source_ip(text: str | None) -> tuple[tuple[str, ...], str | None]:
    """Addresses repeat across millions of events; parse each distinct value once."""
    if text is None:
        return (), None
    ips, service = parse_source_ip(text)
    return tuple(ips), service


def _issued_credential(
    name: str,
    error_code: str | None,
    request: Fields,
    response: Fields,
    caller_key: str | None,
    caller: str,
    caller_kind: str,
) -> IssuedCredential | None:
    """The temporary key an STS call handed out, if it was one and it succeeded."""
    if name not in ISSUING_EVENTS or error_code is not None:
        return None
    access_key = response.text("credentials", "accessKeyId")
    role_arn = request.text("roleArn")
    session_name = request.text("roleSessionName")
    if name == "GetFederationToken":
        session_key = response.text("federatedUser", "arn")
        session_kind = "FederatedUser"
        session_name = request.text("name")
    elif name == "GetSessionToken":
        # Later calls appear as the same user (or root) carrying the new ASIA key.
        session_key = caller
        session_kind = caller_kind
    else:
        session_key = response.text("assumedRoleUser", "arn")
        session_kind = "Session"
    return IssuedCredential(
        access_key_id=access_key,
        via=name,
        session_key=session_key,
        session_kind=session_kind,
        role_arn=role_arn,
        session_name=session_name,
        source_identity=response.text("sourceIdentity") or request.text("sourceIdentity"),
        expiration=response.text("credentials", "expiration"),
    )


def _resources(value: Any) -> tuple[ResourceRef, ...]:
    if not isinstance(value, list):
        return ()
    refs = []
    for item in value:
        if isinstance(item, dict):
            arn, type_, account = text_fields(item, _RESOURCE_FIELDS)
            if arn:
                refs.append(ResourceRef(arn, type_, account))
    return tuple(refs)


_RESOURCE_FIELDS = ("ARN", "type", "accountId")


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _event_id(data: dict[str, Any], given: str | None) -> str:
    """The key events are deduplicated on, from the record's eventID (`given`, as text).

    CloudTrail's eventID is a GUID, and two records with the same GUID are the same event delivered twice.
    Hand-made or sanitized logs reuse ids ("1", "EXAMPLE…") for different events; keyed by id alone those
    would vanish as duplicates, so such ids get the record's content hash appended (still stable, so
    re-ingesting them still deduplicates).
    """
    if given is not None and _GUID.match(given):
        return given
    return _synthetic_id(data, given)


def _synthetic_id(data: dict[str, Any], given: str | None = None) -> str:
    """A stable id from the record's content, for records without a usable eventID."""
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        canonical = repr(sorted(data.items(), key=lambda item: str(item[0]))).encode()
    digest = hashlib.sha256(canonical).hexdigest()
    return f"{given[:100]}~{digest[:16]}" if given else f"gt-{digest[:32]}"
