"""CloudTrail records: every field a real record has, in AWS's order, with AWS's value shapes.

`RecordFactory.call` is the one place a simulated record is assembled; callers say what happened (who, which
API, parameters, response, error) and get back the record as a trail would write it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphtrail.simulate.callers import Caller
from graphtrail.simulate.ids import IdMint, iso_time
from graphtrail.simulate.org import HOME_REGION

Record = dict[str, Any]

_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "BatchGet", "Search", "Check", "Query", "Scan")
_READ_NAMES = frozenset(
    {
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "Decrypt",
        "GenerateDataKey",
        "Encrypt",
        "GetCallerIdentity",
    }
)
_WRITES_NAMED_GET = frozenset({"GetFederationToken", "GetSessionToken"})  # they mint credentials: readOnly false
_GLOBAL_HOSTS = {
    "iam.amazonaws.com": "iam.amazonaws.com",
    "organizations.amazonaws.com": "organizations.us-east-1.amazonaws.com",
}
_JSON_PROTOCOL = frozenset(
    {
        "kms.amazonaws.com",
        "secretsmanager.amazonaws.com",
        "lambda.amazonaws.com",
        "ssm.amazonaws.com",
        "guardduty.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "ecs.amazonaws.com",
        "logs.amazonaws.com",
        "sso.amazonaws.com",
    }
)


@dataclass(frozen=True, slots=True)
class Timed:
    """A record and its event time (epoch seconds), as the simulation hands it to the writer."""

    time: int
    record: Record


class RecordFactory:
    def __init__(self, mint: IdMint) -> None:
        self.mint = mint

    def call(
        self,
        t: int,
        caller: Caller,
        source: str,
        name: str,
        *,
        region: str = HOME_REGION,
        params: Any = None,
        response: Any = None,
        error: tuple[str, str] | None = None,
        resources: list[dict[str, str]] | None = None,
        recipient: str | None = None,
        data_event: bool = False,
        read_only: bool | None = None,
        additional: dict[str, Any] | None = None,
        event_type: str = "AwsApiCall",
        identity: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Timed:
        """One API call. `identity` overrides the caller's (the other account's copy of a cross-account call)."""
        record: Record = {
            "eventVersion": "1.10" if data_event else "1.09",
            "userIdentity": identity if identity is not None else caller.identity,
            "eventTime": iso_time(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": caller.ip,
            "userAgent": caller.user_agent,
        }
        if error is not None:
            code, message = error
            if code:  # a failed console sign-in has a message and no code
                record["errorCode"] = code
            record["errorMessage"] = message
        record["requestParameters"] = params
        record["responseElements"] = None if error is not None and error[0] else response
        if additional is not None:
            record["additionalEventData"] = additional
        record["requestID"] = request_id or (
            self.mint.s3_request_id() if source == "s3.amazonaws.com" else self.mint.uuid()
        )
        record["eventID"] = self.mint.uuid()
        record["readOnly"] = _read_only(name) if read_only is None else read_only
        if resources:
            record["resources"] = resources
        record["eventType"] = event_type
        record["managementEvent"] = not data_event
        record["recipientAccountId"] = recipient or caller.account
        record["eventCategory"] = "Data" if data_event else "Management"
        if not caller.service and not caller.console:
            record["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": _host(source, region, params),
            }
        if caller.console:
            record["sessionCredentialFromConsole"] = "true"
        return Timed(t, record)

    def cross_account(self, call: Timed, caller: Caller, owner: str) -> list[Timed]:
        """Both copies of a call into another account: same requestID and sharedEventID, own eventIDs."""
        shared = self.mint.uuid()
        mine = dict(call.record)
        theirs = dict(call.record)
        theirs["userIdentity"] = caller.seen_from_other_account()
        theirs["eventID"] = self.mint.uuid()
        theirs["recipientAccountId"] = owner
        for copy in (mine, theirs):
            _insert_after(copy, "recipientAccountId", "sharedEventID", shared)
        return [Timed(call.time, mine), Timed(call.time, theirs)]


def denied(caller: Caller, action: str, resource: str, source: str) -> tuple[str, str]:
    """The errorCode and errorMessage AWS writes when a call is not allowed, per protocol."""
    message = (
        f"User: {caller.principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )
    if source == "ec2.amazonaws.com":
        return "Client.UnauthorizedOperation", "You are not authorized to perform this operation. " + message
    if source == "s3.amazonaws.com":
        return "AccessDenied", "Access Denied"
    if source in _JSON_PROTOCOL:
        return "AccessDeniedException", message
    return "AccessDenied", message


def resource(arn: str, kind: str, account: str | None = None) -> dict[str, str]:
    entry = {"accountId": account, "type": kind, "ARN": arn} if account else {"type": kind, "ARN": arn}
    return entry


def _read_only(name: str) -> bool:
    return name in _READ_NAMES or (name.startswith(_READ_PREFIXES) and name not in _WRITES_NAMED_GET)


def _host(source: str, region: str, params: Any) -> str:
    if source in _GLOBAL_HOSTS:
        return _GLOBAL_HOSTS[source]
    service = source.split(".", 1)[0]
    if service == "s3" and isinstance(params, dict) and params.get("bucketName"):
        return f"{params['bucketName']}.s3.{region}.amazonaws.com"
    if service == "signin":
        return f"{region}.signin.aws.amazon.com"
    return f"{service}.{region}.amazonaws.com"


def _insert_after(record: Record, after: str, key: str, value: Any) -> None:
    items = list(record.items())
    record.clear()
    for name, existing in items:
        record[name] = existing
        if name == after:
            record[key] = value
