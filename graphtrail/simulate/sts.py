"""Credential-issuing calls (STS, sign-in) and the sessions they open.

Each function returns the records AWS writes for the call and an `Issued` that builds the session's
`Caller`, so later calls carry exactly the key the response handed out: the lineage ingest must recover.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphtrail.arn import assumed_role_arn, federated_user_arn
from graphtrail.simulate import callers
from graphtrail.simulate.callers import Caller
from graphtrail.simulate.ids import iso_time, java_time
from graphtrail.simulate.org import CONSOLE_UA, HOME_REGION, IamUser, Person, Role
from graphtrail.simulate.records import Record, Timed, resource
from graphtrail.simulate.world import World

STS = "sts.amazonaws.com"
SIGNIN = "signin.amazonaws.com"
SSO_SESSION_SECONDS = 43200  # the longest session an Identity Center permission set allows


@dataclass(frozen=True)
class Issued:
    """Temporary credentials handed out by one call, and how to call with them."""

    key: str
    created: int
    calls: list[Timed]
    make_caller: Callable[..., Caller] = field(repr=False)

    def caller(self, *, ip: str, user_agent: str, **extra: Any) -> Caller:
        return self.make_caller(ip=ip, user_agent=user_agent, **extra)

    @property
    def event_ids(self) -> list[str]:
        return [call.record["eventID"] for call in self.calls]


def _credentials(world: World, account: str, t: int, duration: int) -> dict[str, str]:
    return {
        "accessKeyId": world.mint.access_key(account, temporary=True),
        "sessionToken": world.mint.session_token(),
        "expiration": java_time(t + duration),
    }


def assume_role(
    world: World,
    t: int,
    caller: Caller,
    role: Role,
    session_name: str,
    *,
    region: str = HOME_REGION,
    duration: int = 3600,
    source_identity: str | None = None,
    external_id: str | None = None,
) -> Issued:
    """AssumeRole; a call from another account is written to both accounts, joined by sharedEventID."""
    params: dict[str, Any] = {"roleArn": role.arn, "roleSessionName": session_name, "durationSeconds": duration}
    if external_id:
        params["externalId"] = external_id
    if source_identity:
        params["sourceIdentity"] = source_identity
    credentials = _credentials(world, role.account, t, duration)
    session_arn = assumed_role_arn("aws", role.account, role.name, session_name)
    response: dict[str, Any] = {
        "credentials": credentials,
        "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{session_name}", "arn": session_arn},
    }
    if source_identity:
        response["sourceIdentity"] = source_identity
    inherited = source_identity or (caller.identity.get("sessionContext") or {}).get("sourceIdentity")
    service = caller.service if caller.identity.get("type") == "AWSService" else None
    call = world.records.call(
        t,
        caller,
        STS,
        "AssumeRole",
        region=region,
        params=params,
        response=response,
        resources=[resource(role.arn, "AWS::IAM::Role", role.account)],
        recipient=role.account if service or not caller.account else caller.account,
    )
    calls = [call]
    if not service and caller.account and caller.account != role.account:
        calls = world.records.cross_account(call, caller, role.account)
    key = credentials["accessKeyId"]

    def make(ip: str, user_agent: str, **extra: Any) -> Caller:
        extra.setdefault("source_identity", inherited)
        return callers.role_session(role, session_name, key, t, ip=ip, user_agent=user_agent, **extra)

    return Issued(key, t, calls, make)


def assume_role_with_saml(world: World, t: int, person: Person, role: Role, provider_arn: str) -> Issued:
    """Identity Center federating a person into a member account (the console's way in)."""
    saml = callers.saml_user(person, provider_arn, role.account)
    credentials = _credentials(world, role.account, t, SSO_SESSION_SECONDS)
    session_arn = assumed_role_arn("aws", role.account, role.name, person.email)
    params = {
        "sAMLAssertionID": "_" + world.mint.hex(32),
        "roleSessionName": person.email,
        "principalTags": {"Email": person.email},
        "durationSeconds": SSO_SESSION_SECONDS,
        "roleArn": role.arn,
        "principalArn": provider_arn,
    }
    response = {
        "credentials": credentials,
        "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{person.email}", "arn": session_arn},
        "packedPolicySize": 1,
        "subject": person.user_id,
        "subjectType": "persistent",
        "issuer": f"https://portal.sso.{HOME_REGION}.amazonaws.com/saml/assertion/{world.mint.name_suffix(20)}",
        "audience": "https://signin.aws.amazon.com/saml",
        "nameQualifier": world.mint.name_suffix(28) + "=",
    }
    call = world.records.call(
        t,
        saml,
        STS,
        "AssumeRoleWithSAML",
        params=params,
        response=response,
        resources=[
            resource(role.arn, "AWS::IAM::Role", role.account),
            resource(provider_arn, "AWS::IAM::SAMLProvider", role.account),
        ],
        recipient=role.account,
    )
    key = credentials["accessKeyId"]

    def make(ip: str, user_agent: str, **extra: Any) -> Caller:
        return callers.role_session(role, person.email, key, t, ip=ip, user_agent=user_agent, **extra)

    return Issued(key, t, [call], make)


def get_federation_token(world: World, t: int, caller: Caller, user: IamUser, name: str, policy: str) -> Issued:
    credentials = _credentials(world, user.account, t, 43200)
    params = {"name": name, "policy": policy, "durationSeconds": 43200}
    response = {
        "credentials": credentials,
        "federatedUser": {
            "federatedUserId": f"{user.account}:{name}",
            "arn": federated_user_arn("aws", user.account, name),
        },
        "packedPolicySize": 9,
    }
    call = world.records.call(t, caller, STS, "GetFederationToken", params=params, response=response)
    key = credentials["accessKeyId"]

    def make(ip: str, user_agent: str, **extra: Any) -> Caller:
        return callers.federated_user(user, name, key, t, ip=ip, user_agent=user_agent)

    return Issued(key, t, [call], make)


def get_session_token(world: World, t: int, caller: Caller, user: IamUser) -> Issued:
    credentials = _credentials(world, user.account, t, 43200)
    call = world.records.call(
        t, caller, STS, "GetSessionToken", params={"durationSeconds": 43200}, response={"credentials": credentials}
    )
    key = credentials["accessKeyId"]

    def make(ip: str, user_agent: str, **extra: Any) -> Caller:
        return callers.iam_user_session(user, key, t, ip=ip, user_agent=user_agent)

    return Issued(key, t, [call], make)


def console_login(
    world: World, t: int, caller: Caller, *, mfa: bool, success: bool = True, region: str = HOME_REGION
) -> Timed:
    """ConsoleLogin as signin.amazonaws.com writes it: no key, the outcome in responseElements."""
    caller = dataclasses.replace(caller, console=False)  # the sign-in itself is a TLS request to signin
    identity = {k: v for k, v in caller.identity.items() if k != "accessKeyId"}
    if identity.get("type") in ("IAMUser", "Root"):
        identity["accessKeyId"] = ""
    additional: Record = {
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
        "MobileVersion": "No",
        "MFAUsed": "Yes" if mfa else "No",
    }
    if mfa:
        additional["MFAIdentifier"] = f"arn:aws:iam::{caller.account}:mfa/{world.mint.name_suffix(8)}"
    return world.records.call(
        t,
        caller,
        SIGNIN,
        "ConsoleLogin",
        region=region,
        params=None,
        response={"ConsoleLogin": "Success" if success else "Failure"},
        additional=additional,
        error=None if success else ("", "Failed authentication"),
        event_type="AwsConsoleSignIn",
        identity=identity,
        read_only=False,
    )


def console_session(world: World, signer: Caller, signed_in: int, *, mfa: bool = False) -> Caller:
    """The console session a root or IAM user's password sign-in opens, for the calls made in the browser after it.

    The signer's identity with the temporary key AWS hands the browser, and the sign-in time as creationDate:
    what ties the key to its ConsoleLogin.
    """
    if signer.identity.get("type") not in ("Root", "IAMUser"):
        raise ValueError("a role session's console caller comes from the call that issued its credentials")
    key = world.mint.access_key(signer.account, temporary=True)
    context = {"attributes": {"creationDate": iso_time(signed_in), "mfaAuthenticated": "true" if mfa else "false"}}
    identity = {**signer.identity, "accessKeyId": key, "sessionContext": context}
    return dataclasses.replace(signer, identity=identity, access_key=key, user_agent=CONSOLE_UA, console=True)


@dataclass(frozen=True)
class ConsoleSignIn:
    """A person's way into an account through Identity Center: the federation, then the console sign-in."""

    federation: Issued  # AssumeRoleWithSAML and the session key it handed out
    login: Timed  # ConsoleLogin, written as the browser made it
    console: Caller  # the session as the console's own calls carry it

    @property
    def calls(self) -> list[Timed]:
        return [*self.federation.calls, self.login]


def sso_console_sign_in(world: World, t: int, person: Person, account: str, permission_set: str) -> ConsoleSignIn:
    """AssumeRoleWithSAML into `account` with the permission set's role, then ConsoleLogin a moment later."""
    role = world.org.sso_roles[(account, permission_set)]
    federation = assume_role_with_saml(world, t, person, role, world.org.saml_providers[account])
    console = federation.caller(ip=person.ip, user_agent=CONSOLE_UA, console=True)
    login = console_login(world, t + world.rng.randint(1, 3), console.at(user_agent=person.browser), mfa=False)
    return ConsoleSignIn(federation, login, console)
