"""Raw CloudTrail record → `Event`. Every top-level field is interpreted here and nowhere else."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from graphtrail.cloudtrail.event import Event, Fields, IssuedCredential, Principal, ResourceRef
from graphtrail.cloudtrail.identity import resolve_principal
from graphtrail.cloudtrail.redact import redact_secrets
from graphtrail.cloudtrail.timeparse import parse_time
from graphtrail.errors import RecordRejected
from graphtrail.ipaddr import parse_source_ip

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
    redact_secrets(data)
    record = Fields(data)

    raw_time = next((record.get(name) for name in _TIME_FIELDS if record.get(name) not in (None, "")), None)
    if raw_time is None:
        raise RecordRejected("missing-eventTime", "the record has no eventTime")
    try:
        time = parse_time(raw_time)
    except (ValueError, OverflowError, OSError) as exc:
        raise RecordRejected("bad-eventTime", str(exc)) from None

    event_type = record.text("eventType")
    category = record.text("eventCategory")
    insight = record.sub("insightDetails")
    if event_type == "AwsCloudTrailInsight" or category == "Insight" or (insight and not record.get("userIdentity")):
        category = "Insight"
    elif category is None:
        management = record.get("managementEvent")
        category = "Data" if management is False or str(management).lower() == "false" else "Management"

    name = record.text("eventName") or (insight.text("eventName") if category == "Insight" else None)
    if name is None:
        raise RecordRejected("missing-eventName", "the record has no eventName")
    source = record.text("eventSource") or (insight.text("eventSource") if category == "Insight" else None) or ""
    region = record.text("awsRegion")

    identity = record.sub("userIdentity")
    if category == "Insight":
        principal = Principal(kind="Service", key="cloudtrail.amazonaws.com", identity_type="Insight")
    else:
        if not identity:
            raise RecordRejected("missing-userIdentity", "the record has no userIdentity")
        principal = resolve_principal(identity, region=region)

    event_id = record.text("eventID") or _synthetic_id(data)
    ips, service = parse_source_ip(record.text("sourceIPAddress"))
    access_key = identity.text("accessKeyId")
    request = record.sub("requestParameters")
    response = record.sub("responseElements")
    error_code = record.text("errorCode")
    return Event(
        event_id=event_id,
        time=time,
        name=name,
        source=source,
        region=region,
        account=record.text("recipientAccountId") or principal.account,
        principal=principal,
        access_key_id=access_key,
        source_ip=ips[0] if ips else None,
        source_ips=tuple(ips),
        source_service=service,
        user_agent=record.text("userAgent"),
        error_code=error_code,
        error_message=record.text("errorMessage"),
        read_only=_flag(record.get("readOnly")),
        category=category,
        event_type=event_type,
        shared_event_id=record.text("sharedEventID"),
        request_id=record.text("requestID"),
        vpc_endpoint_id=record.text("vpcEndpointId"),
        version=record.text("eventVersion"),
        resources=_resources(record.get("resources")),
        issued=_issued_credential(name, error_code, request, response, access_key, principal.key, principal.kind),
        request=request,
        response=response,
        additional=record.sub("additionalEventData"),
    )


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
            fields = Fields(item)
            arn = fields.text("ARN")
            if arn:
                refs.append(ResourceRef(arn=arn, type=fields.text("type"), account=fields.text("accountId")))
    return tuple(refs)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _synthetic_id(data: dict[str, Any]) -> str:
    """A stable id for records exported without eventID, so re-ingesting them still deduplicates."""
    try:
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        canonical = repr(sorted(data.items(), key=lambda item: str(item[0]))).encode()
    digest = hashlib.sha256(canonical).hexdigest()
    return f"gt-{digest[:32]}"
