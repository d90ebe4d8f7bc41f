"""`userIdentity` → `Principal`: the one switch on CloudTrail's identity types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from graphtrail import arn as arns
from graphtrail.cloudtrail.event import Fields, Principal, as_flag, text_field
from graphtrail.cloudtrail.timeparse import describe_value, parse_time
from graphtrail.errors import RecordRejected

KNOWN_IDENTITY_TYPES = frozenset(
    {
        "Root",
        "IAMUser",
        "AssumedRole",
        "Role",
        "FederatedUser",
        "AWSAccount",
        "AWSService",
        "SAMLUser",
        "WebIdentityUser",
        "IdentityCenterUser",
        "Directory",
        "Unknown",
    }
)


def partition_for(*candidates: str | None, region: str | None = None) -> str:
    """The partition from the first ARN that has one, else from the region's prefix."""
    for candidate in candidates:
        parsed = arns.parse_arn(candidate)
        if parsed is not None:
            return parsed.partition
    if region:
        if region.startswith("cn-"):
            return "aws-cn"
        if region.startswith("us-gov-"):
            return "aws-us-gov"
        if region.startswith(("us-iso-", "us-isob-")):
            return "aws-iso" if region.startswith("us-iso-") else "aws-iso-b"
    return "aws"


def _block(block: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = block.get(key)
    return value if type(value) is dict else _NOTHING


_NOTHING: Mapping[str, Any] = {}


def resolve_principal(identity: Mapping[str, Any], *, region: str | None = None) -> Principal:
    """Map a `userIdentity` block to the node that acted.

    Expects CloudTrail's own key spelling (the normalizer restores it for lower-cased exports). Raises
    RecordRejected for a type CloudTrail does not document, so a mangled export is counted rather than
    silently turned into a fake principal.
    """
    if isinstance(identity, Fields):
        identity = identity.raw
    identity_type = text_field(identity, "type")
    account = text_field(identity, "accountId")
    arn = text_field(identity, "arn")
    principal_id = text_field(identity, "principalId")
    user_name = text_field(identity, "userName")
    invoked_by = text_field(identity, "invokedBy")
    context = _block(identity, "sessionContext")
    issuer = _block(context, "sessionIssuer")
    attributes = _block(context, "attributes")
    issuer_arn = text_field(issuer, "arn")
    partition = partition_for(arn, issuer_arn, region=region)
    common = {
        "identity_type": identity_type or "",
        "partition": partition,
        "principal_id": principal_id,
        "invoked_by": invoked_by,
        "creation_date": _creation_date(text_field(attributes, "creationDate")),
        "mfa_authenticated": as_flag(attributes.get("mfaAuthenticated")),
        "source_identity": text_field(context, "sourceIdentity"),
        "ec2_role_delivery": text_field(context, "ec2RoleDelivery"),
        "in_scope_of": text_field(_block(identity, "inScopeOf"), "credentialsIssuedTo"),
        "in_scope_type": text_field(_block(identity, "inScopeOf"), "issuerType"),
    }

    if identity_type is None:
        # AwsServiceEvent records carry only {accountId, invokedBy}.
        if invoked_by:
            return Principal(kind="Service", key=invoked_by, account=None, name=invoked_by, **common)
        raise RecordRejected("missing-identity-type", "userIdentity has no type and no invokedBy")
    if identity_type not in KNOWN_IDENTITY_TYPES:
        raise RecordRejected("unknown-identity-type", f"userIdentity.type {describe_value(identity_type)}")

    if identity_type == "Root":
        key = arn if arns.parse_arn(arn) else (arns.root_arn(partition, account) if account else None)
        if key is None:
            raise RecordRejected("incomplete-identity", "Root identity without arn or accountId")
        return Principal(kind="Root", key=key, account=account or _account_of(key), name=user_name, **common)

    if identity_type == "IAMUser":
        if arns.parse_arn(arn):
            key = arn
        elif account and user_name:
            key = arns.user_arn(partition, account, user_name)
        elif principal_id:
            return Principal(kind="Unknown", key=f"principal:{principal_id}", account=account, **common)
        else:
            raise RecordRejected("incomplete-identity", "IAMUser identity without arn, userName or principalId")
        name = user_name or arns.parse_arn(key).resource_name  # type: ignore[union-attr]
        return Principal(kind="User", key=key, account=account or _account_of(key), name=name, **common)

    if identity_type == "AssumedRole":
        return _assumed_role(identity, arn, principal_id, account, issuer_arn, partition, common)

    if identity_type == "Role":
        if not arns.parse_arn(arn):
            raise RecordRejected("incomplete-identity", "Role identity without arn")
        return Principal(kind="Role", key=arn, account=account or _account_of(arn), name=_name(arn), **common)  # type: ignore[arg-type]

    if identity_type == "FederatedUser":
        name = _name(arn) or (principal_id.split(":", 1)[-1] if principal_id else None)
        if arns.parse_arn(arn):
            key = arn
        elif account and name:
            key = arns.federated_user_arn(partition, account, name)
        else:
            raise RecordRejected("incomplete-identity", "FederatedUser identity without arn")
        return Principal(
            kind="FederatedUser",
            key=key,  # type: ignore[arg-type]
            account=account or _account_of(key),
            name=name,
            issuer_arn=issuer_arn,
            issuer_kind=_issuer_kind(text_field(issuer, "type")),
            session_name=name,
            **common,
        )

    if identity_type == "AWSAccount":
        if account == "CloudFront":
            return Principal(kind="Service", key="cloudfront.amazonaws.com", name="CloudFront", **common)
        if not account:
            raise RecordRejected("incomplete-identity", "AWSAccount identity without accountId")
        # The resource owner's copy of a cross-account call: only the caller's account is known.
        return Principal(kind="Account", key=account, account=account, name=account, **common)

    if identity_type == "AWSService":
        service = invoked_by or "unknown.amazonaws.com"
        return Principal(kind="Service", key=service, name=service, **common)

    if identity_type in ("SAMLUser", "WebIdentityUser"):
        provider = text_field(identity, "identityProvider")
        who = user_name or principal_id
        if not who:
            raise RecordRejected("incomplete-identity", f"{identity_type} identity without userName or principalId")
        scheme = "saml" if identity_type == "SAMLUser" else "oidc"
        key = f"{scheme}:{provider}:{who}" if provider else f"{scheme}:{who}"
        return Principal(kind="ExternalIdentity", key=key, account=account, name=who, provider=provider, **common)

    if identity_type == "IdentityCenterUser":
        behalf = _block(identity, "onBehalfOf")
        user_id = text_field(behalf, "userId") or principal_id
        if not user_id:
            raise RecordRejected("incomplete-identity", "IdentityCenterUser identity without onBehalfOf.userId")
        store = text_field(behalf, "identityStoreArn")
        return Principal(
            kind="ExternalIdentity",
            key=f"identitycenter:{user_id}",
            account=account,
            name=user_name or user_id,
            provider=store or "identitycenter",
            **common,
        )

    # Directory and Unknown: keep whatever identifies them.
    who = principal_id or user_name or account
    if not who:
        raise RecordRejected("incomplete-identity", f"{identity_type} identity with nothing to identify it")
    kind = "ExternalIdentity" if identity_type == "Directory" else "Unknown"
    prefix = "directory" if identity_type == "Directory" else "unknown"
    return Principal(kind=kind, key=f"{prefix}:{who}", account=account, name=user_name or who, **common)


def _assumed_role(
    identity: Mapping[str, Any],
    arn: str | None,
    principal_id: str | None,
    account: str | None,
    issuer_arn: str | None,
    partition: str,
    common: dict,
) -> Principal:
    names = arns.role_name_of_session(arn)
    session_name = names[1] if names else None
    if session_name is None and principal_id and ":" in principal_id:
        session_name = principal_id.split(":", 1)[1]
    key = arn if names else None
    if key is None and issuer_arn and session_name:
        issuer = arns.parse_arn(issuer_arn)
        if issuer is not None:
            key = arns.assumed_role_arn(issuer.partition, issuer.account, issuer.resource_name, session_name)
    if key is None:
        raise RecordRejected("incomplete-identity", "AssumedRole identity without a session ARN")
    if issuer_arn is None and names:
        # No sessionIssuer (sanitized or older records): the role ARN without its path is the best we have.
        issuer_arn = arns.role_arn(partition, account or _account_of(key) or "", names[0])
    return Principal(
        kind="Session",
        key=key,
        account=account or _account_of(key),
        name=session_name,
        issuer_arn=issuer_arn,
        issuer_kind=_issuer_kind(text_field(_block(_block(identity, "sessionContext"), "sessionIssuer"), "type"))
        or "Role",
        session_name=session_name,
        **common,
    )


def _issuer_kind(issuer_type: str | None) -> str | None:
    return {"Role": "Role", "IAMUser": "User", "Root": "Root"}.get(issuer_type or "")


def _account_of(arn: str | None) -> str | None:
    parsed = arns.parse_arn(arn)
    return parsed.account if parsed and parsed.account else None


def _name(arn: str | None) -> str | None:
    parsed = arns.parse_arn(arn)
    return parsed.resource_name if parsed else None


def _creation_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None  # a mangled creationDate costs the session its date, not the event
