"""Credential lineage: which call minted each temporary key, and the chain back to a long-term key.

An STS response's `credentials.accessKeyId` is the key later events carry in `userIdentity.accessKeyId`.
Linking the two is what makes a path true. Resolution runs over the whole case after every ingest, so
the order in which files arrive never matters.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from graphtrail import arn as arns
from graphtrail.cloudtrail.event import Event
from graphtrail.cloudtrail.timeparse import format_time, parse_time

# How far a session's creationDate may sit from the issuing event's eventTime (both have 1 s resolution,
# and the STS host clock can differ from the one that stamped the event).
CREATION_DATE_TOLERANCE = timedelta(seconds=5)

# Services that hand their sessions to workloads; the key is attributable to the workload, not a person.
WORKLOAD_ISSUERS = {
    "AWS::Lambda::Function": "lambda.amazonaws.com",
    "AWS::ECS::Task": "ecs-tasks.amazonaws.com",
    "AWS::EC2::Instance": "ec2.amazonaws.com",
}


@dataclass(frozen=True, slots=True)
class Issuance:
    """One credential-issuing event, as the case stores it (no secrets)."""

    event_id: str
    time: str
    via: str
    access_key_id: str | None
    issuer: str  # principal key of the caller
    issuer_kind: str
    issuer_key: str | None  # the key the caller signed with
    session_key: str | None
    role_arn: str | None
    session_name: str | None
    source_identity: str | None
    source_ip: str | None
    user_agent: str | None
    account: str | None  # recipientAccountId: whose log holds this copy
    shared_event_id: str | None

    @classmethod
    def from_event(cls, event: Event) -> Issuance | None:
        issued = event.issued
        if issued is None:
            return None
        return cls(
            event_id=event.event_id,
            time=format_time(event.time),
            via=issued.via,
            access_key_id=issued.access_key_id,
            issuer=event.principal.key,
            issuer_kind=event.principal.kind,
            issuer_key=event.access_key_id,
            session_key=issued.session_key,
            role_arn=issued.role_arn,
            session_name=issued.session_name,
            source_identity=issued.source_identity,
            source_ip=event.source_ip or event.source_service,
            user_agent=event.user_agent,
            account=event.account,
            shared_event_id=event.shared_event_id,
        )


@dataclass(frozen=True, slots=True)
class KeyUse:
    """What the case knows of a temporary key from the events that used it."""

    access_key_id: str
    acts_as: str | None
    role_arn: str | None
    session_name: str | None
    session_created: str | None
    ec2_role_delivery: str | None
    workload: str | None
    workload_type: str | None = None
    acts_as_kind: str | None = None
    console: bool = False  # some event with it said sessionCredentialFromConsole


@dataclass(frozen=True, slots=True)
class SignIn:
    """A console sign-in that may have produced a user's session key."""

    event_id: str
    time: str
    source_ip: str | None
    user_agent: str | None


# Finds the user's last ConsoleLogin at or before a time (the case answers it from its event index).
SignInFinder = Callable[[str, str], SignIn | None]


@dataclass(frozen=True, slots=True)
class KeyLineage:
    """Who minted a temporary key and how we know.

    `method`: issuing-event (the STS response names the key), shared-event (the issuer came from the
    caller's copy of a cross-account call, joined on sharedEventID), session-match (no response: role +
    session name + creationDate), ec2-instance-profile / workload (a service-issued session whose issuing
    event is not in the logs), console-session (a user's or root's console sign-in; the ConsoleLogin event
    when the case has it), user-session (a user's or root's own session key, from GetSessionToken or a
    sign-in that is not in the logs: only that principal can have minted it), unresolved.
    """

    access_key_id: str
    method: str
    issuer: str | None
    issuer_kind: str | None
    issuer_key: str | None
    event_id: str | None
    time: str | None
    source_ip: str | None
    user_agent: str | None
    via: str | None
    session_key: str | None

    @property
    def resolved(self) -> bool:
        return self.method != "unresolved"


def _rank(issuance: Issuance) -> tuple[int, str, str]:
    """Prefer the copy that knows the caller (not the resource owner's AWSAccount view), then the earliest."""
    return (1 if issuance.issuer_kind == "Account" else 0, issuance.time, issuance.event_id)


def _role_id(role: str | None) -> tuple[str, str] | None:
    """(account, role name): compares a roleArn from a request with a sessionIssuer ARN that has a path."""
    parsed = arns.parse_arn(role)
    if parsed is None:
        return None
    return parsed.account, parsed.resource_name


def resolve_lineage(
    issuances: Iterable[Issuance], uses: Iterable[KeyUse], find_sign_in: SignInFinder | None = None
) -> dict[str, KeyLineage]:
    """Lineage for every temporary key that was issued or used."""
    by_key: dict[str, list[Issuance]] = defaultdict(list)
    by_shared: dict[str, list[Issuance]] = defaultdict(list)
    by_session: dict[tuple[tuple[str, str] | None, str | None], list[Issuance]] = defaultdict(list)
    for issuance in issuances:
        if issuance.access_key_id:
            by_key[issuance.access_key_id].append(issuance)
        if issuance.shared_event_id:
            by_shared[issuance.shared_event_id].append(issuance)
        if issuance.session_name:
            by_session[(_role_id(issuance.role_arn), issuance.session_name)].append(issuance)

    lineage: dict[str, KeyLineage] = {}
    for key, candidates in by_key.items():
        best = min(candidates, key=_rank)
        lineage[key] = _from_issuance(key, best, by_shared)

    for use in uses:
        if use.access_key_id in lineage:
            continue
        lineage[use.access_key_id] = _fallback(use, by_session, by_shared, find_sign_in)
    return lineage


def _from_issuance(key: str, issuance: Issuance, by_shared: dict[str, list[Issuance]]) -> KeyLineage:
    method = "issuing-event"
    source = issuance
    if issuance.issuer_kind == "Account" and issuance.shared_event_id:
        richer = [copy for copy in by_shared.get(issuance.shared_event_id, []) if copy.issuer_kind != "Account"]
        if richer:
            source = min(richer, key=_rank)
            method = "shared-event"
    return KeyLineage(
        access_key_id=key,
        method=method,
        issuer=source.issuer,
        issuer_kind=source.issuer_kind,
        issuer_key=source.issuer_key,
        event_id=source.event_id,
        time=source.time,
        source_ip=source.source_ip,
        user_agent=source.user_agent,
        via=source.via,
        session_key=issuance.session_key or source.session_key,
    )


def _fallback(
    use: KeyUse,
    by_session: dict[tuple[tuple[str, str] | None, str | None], list[Issuance]],
    by_shared: dict[str, list[Issuance]],
    find_sign_in: SignInFinder | None,
) -> KeyLineage:
    if use.session_created and use.session_name:
        created = _parse(use.session_created)
        candidates = [
            issuance
            for issuance in by_session.get((_role_id(use.role_arn), use.session_name), [])
            # an issuance that names its key minted that key, not this one
            if issuance.access_key_id is None
            and created is not None
            and abs(_parse(issuance.time) - created) <= CREATION_DATE_TOLERANCE  # type: ignore[operator]
        ]
        if candidates:
            best = min(candidates, key=lambda i: (abs(_parse(i.time) - created), *_rank(i)))  # type: ignore[operator]
            found = _from_issuance(use.access_key_id, best, by_shared)
            method = "shared-event" if found.method == "shared-event" else "session-match"
            return dataclasses.replace(found, method=method)
    if use.acts_as_kind in ("User", "Root") and use.acts_as:
        return _own_session(use, find_sign_in)
    service = None
    if use.ec2_role_delivery:
        service, method = "ec2.amazonaws.com", "ec2-instance-profile"
    elif use.workload_type in WORKLOAD_ISSUERS:
        service, method = WORKLOAD_ISSUERS[use.workload_type], "workload"
    elif use.workload and ":lambda:" in use.workload:
        service, method = "lambda.amazonaws.com", "workload"
    if service is not None:
        return _without_event(use, method, service, "Service", "service")
    return _without_event(use, "unresolved", None, None, None)


def _without_event(
    use: KeyUse, method: str, issuer: str | None, issuer_kind: str | None, via: str | None
) -> KeyLineage:
    """Lineage known from the key's own sessions only: no issuing event to cite."""
    return KeyLineage(
        access_key_id=use.access_key_id,
        method=method,
        issuer=issuer,
        issuer_kind=issuer_kind,
        issuer_key=None,
        event_id=None,
        time=use.session_created if issuer else None,
        source_ip=None,
        user_agent=None,
        via=via,
        session_key=use.acts_as,
    )


def _own_session(use: KeyUse, find_sign_in: SignInFinder | None) -> KeyLineage:
    """A user's (or root's) temporary key: minted by that principal, through the console or GetSessionToken."""
    assert use.acts_as is not None
    if not use.console:
        return _without_event(use, "user-session", use.acts_as, use.acts_as_kind, "GetSessionToken")
    found = _without_event(use, "console-session", use.acts_as, use.acts_as_kind, "ConsoleLogin")
    sign_in = None
    if find_sign_in is not None and use.session_created:
        sign_in = find_sign_in(use.acts_as, _shift(use.session_created, CREATION_DATE_TOLERANCE))
    if sign_in is None:
        return found
    return dataclasses.replace(
        found, event_id=sign_in.event_id, time=sign_in.time, source_ip=sign_in.source_ip, user_agent=sign_in.user_agent
    )


def _shift(text: str, delta: timedelta) -> str:
    parsed = _parse(text)
    return format_time(parsed + delta) if parsed is not None else text


def _parse(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def chain_of(key: str, lineage: dict[str, KeyLineage], limit: int = 32) -> list[KeyLineage]:
    """The hops from `key` back towards a long-term credential (or a service), newest first."""
    hops: list[KeyLineage] = []
    seen: set[str] = set()
    current: str | None = key
    while current and current not in seen and len(hops) < limit:
        seen.add(current)
        hop = lineage.get(current)
        if hop is None:
            break
        hops.append(hop)
        current = hop.issuer_key if hop.issuer_key and arns.is_temporary_key(hop.issuer_key) else None
    return hops
