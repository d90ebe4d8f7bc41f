"""Access keys: a key created and put to use at once, and a key used from an address its owner never used.

Both questions are about where a credential is used compared with where its owner normally works. The owner
of a long-term key (AKIA) or of a user's own session is that user; the owner of a federated session is the
user who minted it; the owner of an Identity Center / SAML session is the person (the session name), across
accounts and permission sets. An address is only "new" when it is outside (`HuntContext.is_outside`: not
AWS's, not a trusted network) and public (a private address names no place), and when neither the owner nor
anyone else in the organisation called from it (or from its /24) during the baseline. A principal that only
appears after the baseline has no habits to compare with, so it is reported lower.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from graphtrail import arn as arns
from graphtrail.case import Case
from graphtrail.cloudtrail.timeparse import shift_time
from graphtrail.findings import Finding, Hop, Severity
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import (
    ADDITIONAL_CLOUD_CREDENTIALS,
    CLOUD_ACCOUNT_DISCOVERY,
    VALID_CLOUD_ACCOUNTS,
    bursts,
    finding_from,
    who,
)
from graphtrail.hunts.context import HuntContext, HuntEvent, is_private_address, seconds_between

FIRST_EVENTS = 50  # events shown per key and new address (the first ones)
HOP_GAP_SECONDS = 3600  # use events closer than this form one hop
READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet")
SAML = "AssumeRoleWithSAML"
SSO_ROLE_PREFIX = "AWSReservedSSO_"
# Sessions of people: Identity Center roles by name, or any session whose key came from a SAML sign-in.
PERSON_SESSION_SQL = (
    "actor LIKE '%:assumed-role/AWSReservedSSO~_%' ESCAPE '~' "
    "OR access_key IN (SELECT access_key_id FROM key_lineage WHERE via = ?)"
)


# -- where owners work: shared with the persistence hunts ---------------------------------------------------


def _network(ip: str) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) around an address: one office, one NAT pool, one CI provider's block."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class Addresses:
    """Where each owner, and the organisation as a whole, called from during the baseline."""

    def __init__(self, context: HuntContext) -> None:
        self.context = context
        self._known: dict[str, frozenset[str]] = {}
        self._known_networks: dict[str, set[str]] = {}

    def _baseline(self) -> tuple[Case, str | None]:
        """The case holding the baseline and the time it ends (None: all of that case)."""
        if self.context.baseline_case is not None:
            return self.context.baseline_case, None
        return self.context.case, self.context.baseline_end

    @property
    def organisation(self) -> frozenset[str]:
        """Every address anyone called from during the baseline; empty when the case has no baseline."""
        return self.context.organisation_addresses

    @cached_property
    def _organisation_networks(self) -> set[str]:
        return {net for ip in self.organisation if self.is_place(ip) and (net := _network(ip))}

    def is_place(self, ip: str | None) -> bool:
        """An outside address (`HuntContext.is_outside`) that is public: only those say where someone works. A
        private address names no place (strangers share 10.0.0.x and VPN pools), so it is never new."""
        return self.context.is_outside(ip) and not is_private_address(ip)

    @cached_property
    def saml_sessions(self) -> set[str]:
        """Session ARNs minted by AssumeRoleWithSAML (Identity Center and other SAML sign-ins): people."""
        rows = self.context.case.db.execute(
            "SELECT DISTINCT session_key FROM key_lineage WHERE via=? AND session_key IS NOT NULL", (SAML,)
        )
        return {session for (session,) in rows}

    def is_person_session(self, actor: str) -> bool:
        """An Identity Center session (its role says so even when the sign-in predates the logs) or a SAML one."""
        names = arns.role_name_of_session(actor)
        return names is not None and (names[0].startswith(SSO_ROLE_PREFIX) or actor in self.saml_sessions)

    @cached_property
    def _person_ips(self) -> dict[str, set[str]]:
        """A person's baseline addresses across every account and permission set they signed in to."""
        source, end = self._baseline()
        when = " AND time < ?" if end is not None else ""
        params = (SAML, end) if end is not None else (SAML,)
        rows = source.db.execute(
            f"SELECT DISTINCT actor, source_ip FROM events WHERE actor_kind = 'Session' AND source_ip IS NOT NULL "
            f"AND ({PERSON_SESSION_SQL}){when}",
            params,
        ).fetchall()
        rows += source.db.execute(
            f"SELECT session_key, source_ip FROM key_lineage WHERE via=? AND source_ip IS NOT NULL{when}", params
        ).fetchall()
        people: dict[str, set[str]] = {}
        for session, ip in rows:
            person = _person_of(session)
            if person:
                people.setdefault(person, set()).add(ip)
        return people

    def owner_of(self, actor: str, actor_kind: str, access_key: str | None) -> str:
        """Whose habits a call is measured against: the user, the federated user's issuer, or the person."""
        if actor_kind == "FederatedUser" and access_key:
            chain = self.context.chain(access_key)
            if chain and chain[-1].issuer_kind in ("User", "Root") and chain[-1].issuer:
                return chain[-1].issuer
        if actor_kind == "Session" and self.is_person_session(actor):
            person = _person_of(actor)
            if person:
                return f"person:{person}"
        return actor

    def known(self, owner: str) -> frozenset[str]:
        if owner not in self._known:
            if owner.startswith("person:"):
                self._known[owner] = frozenset(self._person_ips.get(owner.removeprefix("person:"), ()))
            else:
                self._known[owner] = self.context.baseline_ips(owner)
        return self._known[owner]

    def familiar_to_organisation(self, ip: str) -> bool:
        return ip in self.organisation or _network(ip) in self._organisation_networks

    def unfamiliar(self, ip: str | None, owners: Iterable[str], seen: Iterable[str] = ()) -> bool:
        """`ip` is a place (`is_place`), and neither the owners nor the organisation used it (or its /24) in the
        baseline.

        When no owner has a baseline, `seen` (addresses the same act already came from) stands in for it: a
        second address is then the new one.
        """
        if not ip or not self.is_place(ip) or self.familiar_to_organisation(ip):
            return False
        owners = list(owners)
        if any(ip in self.known(owner) or _network(ip) in self._networks(owner) for owner in owners):
            return False
        return any(self.known(owner) for owner in owners) or ip not in set(seen)

    def _networks(self, owner: str) -> set[str]:
        if owner not in self._known_networks:
            self._known_networks[owner] = {net for ip in self.known(owner) if (net := _network(ip))}
        return self._known_networks[owner]


def short_name(principal: str) -> str:
    """'ci-deployer', 'root of 155852606522', 'ana.lima@example.com': a principal as a title names it."""
    arn = arns.parse_arn(principal)
    if arn is None:
        return principal
    if arn.resource == "root":
        return f"root of {arn.account}"
    return arn.resource_name


def _person_of(session_arn: str | None) -> str | None:
    names = arns.role_name_of_session(session_arn)
    return names[1] if names else None


# -- grouping use events into hops ---------------------------------------------------------------------------


def use_hops(events: Sequence[HuntEvent], *, first_alone: bool = False) -> list[Hop]:
    """Hops for a run of use events: per actor, key and address, bursts become one hop each.

    Sign-ins and role assumptions stay hops of their own: they are where a new credential starts.
    """
    if not events:
        return []
    head: list[Hop] = []
    rest = list(events)
    if first_alone:
        head, rest = [rest[0].hop()], rest[1:]

    def group(event: HuntEvent) -> object:
        row = event.row
        entry = row.name if row.name in ("ConsoleLogin", "AssumeRole", "GetFederationToken") else ""
        return (row.actor, row.access_key, row.source_ip, entry, event.id if entry else "")

    hops = []
    for run in bursts(rest, HOP_GAP_SECONDS, key=group):
        if len(run) == 1:
            hops.append(run[0].hop())
            continue
        first = run[0]
        names = _distinct(e.row.name for e in run)
        targets = _distinct(e.target for e in run if e.target)
        denied = sum(1 for e in run if e.failed)
        action = f"{len(run)} calls: {', '.join(names[:8])}{'…' if len(names) > 8 else ''}"
        if denied:
            action += f" ({denied} refused)"
        dst = targets[0] if len(targets) == 1 else f"{len(targets)} targets"
        hops.append(Hop(first.row.actor, action, dst, first.time, tuple(e.id for e in run), first.row.source_ip,
                        first.row.access_key))  # fmt: skip
    return head + hops


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def is_read(event: HuntEvent) -> bool:
    return bool(event.event.read_only) or event.row.name.startswith(READ_PREFIXES)


def starts_with_recon(context: HuntContext, events: Sequence[HuntEvent]) -> str | None:
    """Why the first calls look like someone checking a stolen credential: GetCallerIdentity first, or a burst
    of distinct read calls (across services) within recon_seconds of the first."""
    if not events:
        return None
    if events[0].row.name in ("GetCallerIdentity", "GetAccessKeyInfo"):
        return f"its first call was {events[0].row.name}"
    thresholds = context.config.thresholds
    window = [e for e in events if seconds_between(events[0].time, e.time) <= thresholds.recon_seconds]
    reads = {e.row.name for e in window if is_read(e)}
    services = {e.row.source for e in window if is_read(e)}
    if len(reads) >= thresholds.recon_calls or (
        len(reads) >= max(2, thresholds.recon_calls // 2) and len(services) >= thresholds.recon_services
    ):
        return f"its first minutes were a burst of {len(reads)} distinct read calls across {len(services)} services"
    return None


def _step_down(severity: Severity) -> Severity:
    return Severity(max(Severity.LOW, severity - 1))


def _step_up(severity: Severity, cap: Severity = Severity.HIGH) -> Severity:
    return Severity(min(cap, severity + 1))


# -- key-from-new-ip -----------------------------------------------------------------------------------------


@dataclass
class _Use:
    """One credential of one owner at one new address: which (actor, key) pairs and how many calls."""

    owner: str
    credential: str  # the AKIA key, or the session's principal for temporary and console credentials
    ip: str
    long_term: bool
    pairs: set[tuple[str, str | None]] = field(default_factory=set)
    calls: int = 0
    last: str = ""


def key_from_new_ip(context: HuntContext) -> Iterator[Finding]:
    addresses = Addresses(context)
    if not addresses.organisation:
        return  # no baseline in this case: nothing can be called new
    uses: dict[tuple[str, str, str], _Use] = {}
    rows = context.case.db.execute(
        "SELECT actor, actor_kind, access_key, source_ip, count(*), max(time) FROM events "
        "WHERE time >= ? AND source_ip IS NOT NULL AND actor_kind IN ('User', 'Root', 'FederatedUser', 'Session') "
        "AND NOT (name = 'ConsoleLogin' AND error_code IS NOT NULL) "
        f"AND (actor_kind != 'Session' OR {PERSON_SESSION_SQL}) "
        "GROUP BY actor, actor_kind, access_key, source_ip",
        (context.baseline_end, SAML),
    )
    for actor, actor_kind, access_key, ip, calls, last in rows:
        if not addresses.is_place(ip):
            continue
        owner = addresses.owner_of(actor, actor_kind, access_key)
        if not addresses.unfamiliar(ip, [owner]):
            continue
        long_term = bool(access_key) and not arns.is_temporary_key(access_key)
        credential = access_key if long_term else actor
        use = uses.setdefault((owner, credential, ip), _Use(owner, credential, ip, long_term))
        use.pairs.add((actor, access_key))
        use.calls += calls
        use.last = max(use.last, last)
    for use in sorted(uses.values(), key=lambda u: (u.owner, u.credential, u.ip)):
        finding = _new_ip_finding(context, addresses, use)
        if finding is not None:
            yield finding


def _first_events(context: HuntContext, use: _Use) -> list[HuntEvent]:
    pairs = sorted(use.pairs, key=lambda pair: (pair[0], pair[1] or ""))
    match = " OR ".join("(actor = ? AND access_key IS ?)" for _ in pairs)
    params = [context.baseline_end, use.ip, *(value for pair in pairs for value in pair)]
    rows = context.case.events(
        f"time >= ? AND source_ip = ? AND NOT (name = 'ConsoleLogin' AND error_code IS NOT NULL) AND ({match})",
        params,
        limit=FIRST_EVENTS,
    )
    return [context.inspect(row) for row in rows]


def _new_ip_finding(context: HuntContext, addresses: Addresses, use: _Use) -> Finding | None:
    events = _first_events(context, use)
    if not events:
        return None
    first = events[0]
    kind = first.row.actor_kind
    long_term = use.long_term
    federated = kind == "FederatedUser"
    root = kind == "Root" or use.owner.endswith(":root")
    known = addresses.known(use.owner)
    severity = Severity.MEDIUM if long_term or federated else Severity.LOW
    recon = starts_with_recon(context, events)
    if recon:
        severity = _step_up(severity)
    if root:
        severity = _step_up(severity)
    if not known and not root:
        severity = _step_down(severity)  # first seen after the baseline: no habits to compare with
    if context.is_automation(first.row.actor):
        severity = _step_down(severity)  # configured as trusted automation: still shown, a step lower
    owner = use.owner.removeprefix("person:")
    if long_term:
        credential = f"{owner}'s long-term key {use.credential}"
    elif federated:
        credential = f"federation session {first.row.actor} (key {first.row.access_key}), minted by {owner},"
    elif kind == "Session":
        credential = f"Identity Center / SAML session {first.row.actor} of {owner}"
    else:
        credential = f"{owner}'s own session (console sign-in or GetSessionToken)"
    if known:
        listed = ", ".join(sorted(known)[:5]) + ("…" if len(known) > 5 else "")
        habits = f"during the baseline {owner} called only from {listed}"
    else:
        habits = f"{owner} made no call during the baseline (it first appears later), so this is only its first address"
    names = _distinct(e.row.name for e in events)
    denied = sum(1 for e in events if e.failed)
    narrative = (
        f"The {credential} was used from {use.ip}, an address seen neither for it nor anywhere in the organisation "
        f"before {context.baseline_end}: {habits}. The first call was {first.row.name} at {first.time}"
        f"{' (' + recon + ')' if recon else ''}; {use.calls} call(s) came from {use.ip} until {use.last}. "
        f"First {len(events)}: {', '.join(names[:12])}{'…' if len(names) > 12 else ''}"
        f"{f' ({denied} refused)' if denied else ''}. If this address is not theirs, treat the credential as "
        "stolen: deactivate it and review everything it did from this address."
    )
    techniques = [VALID_CLOUD_ACCOUNTS, *([CLOUD_ACCOUNT_DISCOVERY] if recon else [])]
    if federated:
        techniques.append(ADDITIONAL_CLOUD_CREDENTIALS)
    confidence = {Severity.LOW: 0.4, Severity.MEDIUM: 0.6}.get(severity, 0.8)
    title = f"{'Long-term key' if long_term else 'Credential'} of {short_name(owner)} used from new address {use.ip}"
    return finding_from(
        context, "key-from-new-ip", "initial-access:key-used-from-new-ip", title, severity, confidence, techniques,
        events, narrative, hops=use_hops(events, first_alone=True),
    )  # fmt: skip


# -- new-key-used --------------------------------------------------------------------------------------------


def new_key_used(context: HuntContext) -> Iterator[Finding]:
    addresses = Addresses(context)
    window = context.config.thresholds.new_key_use_seconds
    for created in context.events(["CreateAccessKey"], where="error_code IS NULL"):
        key = created.target
        if not arns.is_access_key_id(key):
            continue
        end = shift_time(created.time, window)
        rows = context.case.events("access_key = ? AND time >= ? AND time <= ?", (key, created.time, end),
                                   limit=FIRST_EVENTS)  # fmt: skip
        uses = [context.inspect(row) for row in rows if row.event_id != created.id]
        if uses:
            finding = _new_key_finding(context, addresses, created, uses)
            if finding is not None:
                yield finding


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60)} s" if seconds >= 60 else f"{int(seconds)} s"


def _new_key_finding(
    context: HuntContext, addresses: Addresses, created: HuntEvent, uses: list[HuntEvent]
) -> Finding | None:
    row = created.row
    creator = addresses.owner_of(row.actor, row.actor_kind, row.access_key)
    key_owner = str(created.effect.target.props.get("owner") or row.actor)
    for_other = bool(created.facts.get("for_other_user")) or key_owner != row.actor
    root = row.actor_kind == "Root"
    creation_ip = row.source_ip
    created_unfamiliar = bool(addresses.known(creator)) and addresses.unfamiliar(creation_ip, [creator])
    new_ips = _distinct(
        e.row.source_ip
        for e in uses
        if e.row.source_ip and addresses.unfamiliar(e.row.source_ip, [creator], [creation_ip or ""])
    )
    if not for_other and not new_ips:
        return None  # a principal's own new key, used where it always works: a rotation
    if for_other and new_ips:
        severity = Severity.CRITICAL if created_unfamiliar else Severity.HIGH
    elif for_other:
        severity = Severity.MEDIUM if created_unfamiliar else Severity.LOW
    else:
        severity = Severity.HIGH if root or created_unfamiliar else Severity.MEDIUM
    delay = seconds_between(created.time, uses[0].time)
    whose = f"for {key_owner}" if for_other else "for itself" if not root else "for the root user"
    where = (
        f"from {', '.join(new_ips)}, which {creator.removeprefix('person:')} never used during the baseline"
        if new_ips
        else f"from {', '.join(_distinct(e.row.source_ip or '?' for e in uses))}, an address its creator knows"
    )
    narrative = (
        f"{who(created)} created access key {created.target} {whose} at {created.time}"
        f"{' from an address it had never used' if created_unfamiliar else ''}; {_minutes(delay)} later the key "
        f"was used {where}: "
        f"{', '.join(_distinct(e.row.name for e in uses)[:12])} ({len(uses)} call(s) within "
        f"{context.config.thresholds.new_key_use_seconds // 60} minutes). A key made for someone else and put to "
        "work at once from elsewhere is how a backdoor credential looks; deactivate it if nobody asked for it."
    )
    whose_short = f"for {short_name(key_owner)}" if for_other else whose
    title = f"New access key {created.target} {whose_short} used {_minutes(delay)} after creation" + (
        f" from new address {new_ips[0]}" if new_ips else ""
    )
    category = "persistence:backdoor-key-used" if for_other else "persistence:new-key-used"
    confidence = {Severity.LOW: 0.4, Severity.MEDIUM: 0.6, Severity.HIGH: 0.8}.get(severity, 0.9)
    hops = [created.hop("CreateAccessKey", created.target), *use_hops(uses)]
    return finding_from(
        context, "new-key-used", category, title, severity, confidence,
        [ADDITIONAL_CLOUD_CREDENTIALS, VALID_CLOUD_ACCOUNTS], [created, *uses], narrative, hops=hops,
    )  # fmt: skip


HUNTS = [
    HuntSpec(
        name="key-from-new-ip",
        family="keys",
        title="Key used from an address its owner never used",
        description="A long-term access key, a user's own session or console sign-in, a federation token (measured "
        "against the user who minted it) or an Identity Center / SAML session (measured against the person) used "
        "from an address that neither the owner nor anyone in the organisation used during the baseline (AWS "
        "addresses, trusted networks, private ranges and the /24 of known addresses are never new). One finding "
        "per credential and address, with its first calls. Long-term keys start at medium, sessions at low; "
        "GetCallerIdentity or a recon burst as first calls, or the root user, raise it (up to high); a principal "
        "first seen after the baseline lowers it.",
        techniques=(VALID_CLOUD_ACCOUNTS, CLOUD_ACCOUNT_DISCOVERY),
        run=key_from_new_ip,
    ),
    HuntSpec(
        name="new-key-used",
        family="keys",
        title="New access key put to use at once",
        description="CreateAccessKey followed within thresholds.new_key_use_seconds by calls with the new key. "
        "A key for another user used from an address its creator never used is high (critical when the key was "
        "also created from an unfamiliar address); a key for another user used from known places is low (medium "
        "when created from an unfamiliar address); a principal's own new key is reported only when used from a "
        "new address (a rotation otherwise).",
        techniques=(ADDITIONAL_CLOUD_CREDENTIALS, VALID_CLOUD_ACCOUNTS),
        run=new_key_used,
    ),
]
