"""Who makes a simulated call and from where: the `userIdentity` CloudTrail writes, plus address and agent.

One builder per identity type, shaped after real records (see `tests/data/cloudtrail/`): field names, order
and casing as AWS writes them, `mfaAuthenticated` as a string, `sessionIssuer` with the role's path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from graphtrail.arn import assumed_role_arn, federated_user_arn, root_arn
from graphtrail.simulate.ids import iso_time
from graphtrail.simulate.org import IamUser, Person, Role


@dataclass(frozen=True, slots=True)
class Caller:
    """A principal at an address. `identity` is shared between records and never mutated."""

    identity: dict[str, Any]
    account: str  # the account the principal belongs to
    ip: str  # sourceIPAddress: an address, or a service's DNS name
    user_agent: str
    principal: str  # the ARN (or id) ground truth names it by
    access_key: str | None = None
    console: bool = False  # a console session: no tlsDetails, sessionCredentialFromConsole
    service: str | None = None  # invokedBy: AWS made the call on the principal's behalf

    def at(self, ip: str | None = None, user_agent: str | None = None) -> Caller:
        """The same principal and key, from another address or client."""
        return dataclasses.replace(self, ip=ip or self.ip, user_agent=user_agent or self.user_agent)

    def seen_from_other_account(self) -> dict[str, Any]:
        """The identity a resource owner's copy of a cross-account call carries: no ARN, no key."""
        principal_id = self.identity.get("principalId") or self.account
        return {"type": "AWSAccount", "principalId": principal_id, "accountId": self.account}


def iam_user(user: IamUser, *, key: str | None = None, ip: str | None = None, user_agent: str | None = None) -> Caller:
    key = key or user.key
    identity = {
        "type": "IAMUser",
        "principalId": user.user_id,
        "arn": user.arn,
        "accountId": user.account,
        "accessKeyId": key,
        "userName": user.name,
    }
    return Caller(identity, user.account, ip or user.ips[0], user_agent or user.user_agent, user.arn, key)


def iam_user_session(user: IamUser, key: str, created: int, *, ip: str, user_agent: str) -> Caller:
    """An IAM user calling with GetSessionToken credentials: the same identity type, an ASIA key."""
    caller = iam_user(user, key=key, ip=ip, user_agent=user_agent)
    identity = dict(caller.identity)
    identity["sessionContext"] = {"attributes": {"creationDate": iso_time(created), "mfaAuthenticated": "false"}}
    return dataclasses.replace(caller, identity=identity)


def role_session(
    role: Role,
    session_name: str,
    key: str,
    created: int,
    *,
    ip: str,
    user_agent: str,
    mfa: bool = False,
    source_identity: str | None = None,
    ec2_role_delivery: str | None = None,
    in_scope_of: dict[str, str] | None = None,
    invoked_by: str | None = None,
    console: bool = False,
) -> Caller:
    arn = assumed_role_arn("aws", role.account, role.name, session_name)
    context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role.role_id,
            "arn": role.arn,
            "accountId": role.account,
            "userName": role.name,
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": iso_time(created), "mfaAuthenticated": "true" if mfa else "false"},
    }
    if source_identity:
        context["sourceIdentity"] = source_identity
    if ec2_role_delivery:
        context["ec2RoleDelivery"] = ec2_role_delivery
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role.role_id}:{session_name}",
        "arn": arn,
        "accountId": role.account,
        "accessKeyId": key,
        "sessionContext": context,
    }
    if in_scope_of:
        identity["inScopeOf"] = in_scope_of
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return Caller(identity, role.account, ip, user_agent, arn, key, console=console, service=invoked_by)


def root(account: str, *, ip: str, user_agent: str, key: str = "", console: bool = False) -> Caller:
    arn = root_arn("aws", account)
    identity = {"type": "Root", "principalId": account, "arn": arn, "accountId": account, "accessKeyId": key}
    return Caller(identity, account, ip, user_agent, arn, key or None, console=console)


def federated_user(user: IamUser, name: str, key: str, created: int, *, ip: str, user_agent: str) -> Caller:
    arn = federated_user_arn("aws", user.account, name)
    identity = {
        "type": "FederatedUser",
        "principalId": f"{user.account}:{name}",
        "arn": arn,
        "accountId": user.account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": user.user_id,
                "arn": user.arn,
                "accountId": user.account,
                "userName": user.name,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": iso_time(created), "mfaAuthenticated": "false"},
        },
    }
    return Caller(identity, user.account, ip, user_agent, arn, key)


def aws_service(service: str) -> Caller:
    """An AWS service acting itself (`AWSService`): its DNS name as address and agent."""
    return Caller({"type": "AWSService", "invokedBy": service}, "", service, service, service, service=service)


def saml_user(person: Person, provider_arn: str, account: str) -> Caller:
    """Identity Center's federation into a member account, as the member account logs it."""
    identity = {
        "type": "SAMLUser",
        "principalId": f"{_provider_id(provider_arn)}:{person.email}",
        "userName": person.email,
        "identityProvider": _provider_id(provider_arn),
    }
    return Caller(identity, account, person.ip, person.browser, f"saml:{person.email}")


def identity_center_user(person: Person, identity_store: str, account: str, credential_id: str) -> Caller:
    identity = {
        "type": "IdentityCenterUser",
        "accountId": account,
        "onBehalfOf": {"userId": person.user_id, "identityStoreArn": identity_store},
        "credentialId": credential_id,
    }
    return Caller(identity, account, person.ip, person.browser, f"identitycenter:{person.user_id}")


def _provider_id(provider_arn: str) -> str:
    return provider_arn.rsplit("/", 1)[-1] if "/" in provider_arn else provider_arn
