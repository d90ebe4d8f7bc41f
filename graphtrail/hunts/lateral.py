"""Lateral movement: credentials that move from one principal, account or workload to another.

Four hunts read the case's credential lineage (which call minted each temporary key):

- role-chain: sessions that assume further roles (a key minted with another session's key), long or crossing
  accounts or coming back to a role already in the chain (role juggling), and what the chain's sessions did.
- first-time-role-assumption: a principal assuming a role it never assumed in the baseline, or from an address
  outside AWS it never used for that role.
- workload-pivot: a role handed to a new workload (RunInstances, Lambda CreateFunction/UpdateFunctionConfiguration)
  or commands run on instances (SSM SendCommand/StartSession), and what the workload's session did next.
- workload-key-outside-aws: a key AWS issued to an instance, function or task, used from outside AWS.

"Outside" means what `HuntContext.is_outside` says: an address that is neither in AWS's published ranges nor
in the configured trusted networks; a service name (ec2.amazonaws.com) is AWS. A private address (RFC 1918 and
the like) counts as outside unless the call came through a VPC endpoint: CloudTrail records a private source
address only for calls through an interface endpoint (which it marks with vpcEndpointId), so a private address
without one did not come from inside a VPC. In the Invictus data set the operator's workstation appears as
192.168.10.20 without an endpoint, and it is the attacker.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from graphtrail import arn as arns
from graphtrail.case import Case, EventRow
from graphtrail.cloudtrail.actions import base_event_name
from graphtrail.cloudtrail.timeparse import shift_time
from graphtrail.findings import Finding, Hop, Severity, Technique
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import (
    APPLICATION_ACCESS_TOKEN,
    CLOUD_ADMINISTRATION_COMMAND,
    CLOUD_SERVICES,
    CREATE_CLOUD_INSTANCE,
    DATA_FROM_CLOUD_STORAGE,
    INSTANCE_METADATA,
    SERVERLESS_EXECUTION,
    TEMPORARY_ELEVATED_ACCESS,
    VALID_CLOUD_ACCOUNTS,
    account_of,
    bursts,
    finding_from,
)
from graphtrail.hunts.context import HuntContext, HuntEvent, is_private_address, seconds_between
from graphtrail.lineage import Issuance, KeyLineage, chain_of

# Services that hand a role's session to a workload (an instance, a function, a task).
WORKLOAD_SERVICES = frozenset({"ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"})
WORKLOAD_METHODS = frozenset({"ec2-instance-profile", "workload"})
# Reads of secrets: management events, yet they hand over data.
SECRET_READS = frozenset({
    "GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath",
    "GetPasswordData",
})  # fmt: skip
PIVOT_NAMES = (
    "RunInstances", "AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation", "SendCommand",
    "StartSession",
)  # fmt: skip
LAMBDA_PIVOTS = frozenset({"CreateFunction", "UpdateFunctionConfiguration"})
MAX_ACTIVITY_HOPS = 40  # grouped hops of what a session did, per finding (changes and data access first)
WORKLOAD_WINDOW_SECONDS = 6 * 3600  # how long after a pivot the workload's session is followed
PIVOT_GAP_SECONDS = 3600  # pivots by one principal on one workload this close together are one finding
PIVOT_SAME_OPERATION_SECONDS = 60  # and on any workloads, this close
OUTSIDE_USE_GAP_SECONDS = 6 * 3600  # outside uses of one workload's keys this close together are one finding
REVIEW_MARGIN_SECONDS = 3600  # baseline occurrences this close to the activity under review are part of it


# -- identities and what a call did ---------------------------------------------------------------


def _role_arn_of_session(session_arn: str | None) -> str | None:
    """arn:…:sts::A:assumed-role/R/s → arn:…:iam::A:role/R (without the role's path, which the session drops)."""
    names = arns.role_name_of_session(session_arn)
    parsed = arns.parse_arn(session_arn)
    if names is None or parsed is None:
        return None
    return arns.role_arn(parsed.partition, parsed.account, names[0])


def _role_id(role_arn: str | None) -> tuple[str, str] | None:
    """(account, role name): a roleArn with a path and a session's role without one compare equal."""
    parsed = arns.parse_arn(role_arn)
    if parsed is None:
        return None
    if parsed.service == "sts":
        names = arns.role_name_of_session(role_arn)
        return (parsed.account, names[0]) if names else None
    return parsed.account, parsed.resource_name


def _identity(principal: str) -> str:
    """Who a principal is for "has it done this before": a role's sessions are the role (their names vary)."""
    return _role_arn_of_session(principal) or principal


def _role_label(role: tuple[str, str] | None) -> str:
    return f"{role[1]} ({role[0]})" if role else "an unknown role"


@dataclass
class _Activity:
    """What some sessions did, grouped (one hop per principal, call, target, address and outcome)."""

    hops: list[Hop] = field(default_factory=list)
    events: list[HuntEvent] = field(default_factory=list)  # one representative per hop, for the entities
    data: list[str] = field(default_factory=list)  # summaries of data reads ("115 GetObject on …")
    changes: list[str] = field(default_factory=list)
    iam_changes: list[str] = field(default_factory=list)
    refused: int = 0
    calls: int = 0
    notable_calls: int = 0
    names: list[str] = field(default_factory=list)  # calls that neither read data nor changed anything

    @property
    def impact(self) -> bool:
        return bool(self.data or self.changes)

    def summary(self, limit: int = 8) -> str:
        notable = self.changes + self.data
        if not self.calls:
            return "nothing logged"
        if not notable:
            refused = f", {self.refused} of them refused" if self.refused else ""
            return (
                f"{self.calls} call(s) ({', '.join(self.names[:limit])}), none reading data or changing anything"
                + refused
            )
        more = f" and {len(notable) - limit} more" if len(notable) > limit else ""
        others = self.calls - self.notable_calls
        rest = f"; {others} other call(s) ({', '.join(self.names[:limit])})" if others else ""
        refused = f"; {self.refused} call(s) refused" if self.refused else ""
        return "; ".join(notable[:limit]) + more + rest + refused


def _effect_kind(event: HuntEvent) -> str | None:
    """'data' for reads of stored data or secrets, 'change' for successful writes, else None."""
    if event.failed:
        return None
    name = base_event_name(event.row.name)
    if event.row.category == "Data":
        if name.startswith(("List", "Head")):
            return None  # listing a bucket is discovery, not reading its data
        return "change" if name.startswith(("Put", "Delete", "Copy", "Restore", "Create")) else "data"
    if name in SECRET_READS:
        return "data"
    read_only = event.event.read_only
    if read_only is None:
        read_only = name.startswith(("Get", "List", "Describe", "Head", "Lookup", "Search"))
    return None if read_only else "change"


def _activity(context: HuntContext, rows: Iterable[EventRow], skip: set[str] | None = None) -> _Activity:
    """Group rows into hops; changes and data reads come first when there are too many groups to keep."""
    groups: dict[tuple[str, str, str | None, str | None, bool], list[EventRow]] = {}
    for row in rows:
        if skip and row.event_id in skip:
            continue
        key = (row.actor, row.name, row.target, row.source_ip, bool(row.error_code))
        groups.setdefault(key, []).append(row)
    found = _Activity()
    ranked: list[tuple[int, str, HuntEvent, list[EventRow]]] = []
    for members in groups.values():
        first = members[0]
        event = context.inspect(first)
        kind = _effect_kind(event)
        found.calls += len(members)
        if first.error_code:
            found.refused += len(members)
        what = f"{len(members)} {first.name} on {first.target or first.source}"
        if kind == "data":
            found.data.append(what)
        elif kind == "change":
            found.changes.append(what)
            if first.source == "iam.amazonaws.com":
                found.iam_changes.append(what)
        elif first.name not in found.names:
            found.names.append(first.name)
        if kind:
            found.notable_calls += len(members)
        ranked.append((0 if kind else 1, first.time, event, members))
    ranked.sort(key=lambda item: (item[0], item[1]))
    for _, _, event, members in sorted(ranked[:MAX_ACTIVITY_HOPS], key=lambda item: item[1]):
        first = members[0]
        ids = tuple(row.event_id for row in members)
        found.hops.append(Hop(first.actor, first.name, first.target or first.source, first.time, ids,
                              first.source_ip, first.access_key))  # fmt: skip
        found.events.append(event)
    return found


class _Issuances:
    """The case's credential-issuing events, by id and by the sharedEventID that joins cross-account copies."""

    def __init__(self, case: Case) -> None:
        self.by_id: dict[str, Issuance] = {}
        self.by_shared: dict[str, list[Issuance]] = defaultdict(list)
        for issuance in case.issuances():
            self.by_id[issuance.event_id] = issuance
            if issuance.shared_event_id:
                self.by_shared[issuance.shared_event_id].append(issuance)

    def copies(self, event_id: str | None) -> tuple[str, ...]:
        """The event and its other account's copy, the caller's first."""
        if not event_id:
            return ()
        issuance = self.by_id.get(event_id)
        if issuance is None or not issuance.shared_event_id:
            return (event_id,)
        others = sorted(
            (i for i in self.by_shared[issuance.shared_event_id] if i.event_id != event_id),
            key=lambda i: (i.issuer_kind == "Account", i.event_id),
        )
        return (event_id, *(i.event_id for i in others))

    @cached_property
    def by_session_name(self) -> dict[str, list[Issuance]]:
        found: dict[str, list[Issuance]] = defaultdict(list)
        for issuance in self.by_id.values():
            if issuance.session_name and issuance.access_key_id:
                found[issuance.session_name].append(issuance)
        return found


# -- role-chain ------------------------------------------------------------------------------------------------


@dataclass
class _Chain:
    hops: list[KeyLineage]  # oldest first; hops[i] minted hops[i].access_key_id

    @cached_property
    def roles(self) -> tuple[tuple[str, str] | None, ...]:
        """The chain's roles in order: its shape, which routine runs share."""
        return tuple(_role_id(hop.session_key) for hop in self.hops)

    @property
    def start(self) -> str:
        """When the first session-to-role hop happened (the root may be hours older)."""
        return self.hops[1].time or self.hops[-1].time or ""

    @property
    def role_hops(self) -> int:
        return sum(1 for hop in self.hops if (hop.via or "").startswith("AssumeRole"))

    @cached_property
    def crossings(self) -> list[KeyLineage]:
        crossed = []
        for hop, role in zip(self.hops, self.roles, strict=True):
            caller = account_of(hop.issuer)
            if role is not None and caller is not None and caller != role[0]:
                crossed.append(hop)
        return crossed

    @property
    def juggled(self) -> bool:
        known = [role for role in self.roles if role is not None]
        return len(set(known)) < len(known)

    @property
    def performed(self) -> list[KeyLineage]:
        """The hops someone made with a credential: the root only when a principal (not AWS, not a sign-in)
        called AssumeRole; an Identity Center sign-in or an instance's session is where the credential came from."""
        root = self.hops[0]
        keep_root = root.via == "AssumeRole" and root.issuer_kind != "Service" and root.event_id is not None
        return [hop for index, hop in enumerate(self.hops) if (index > 0 or keep_root) and hop.event_id]

    @property
    def sessions(self) -> list[str]:
        """Keys whose use belongs to the chain: minted by a performed hop."""
        return [hop.access_key_id for hop in self.performed]

    def principals(self) -> set[str]:
        return {p for hop in self.hops for p in (hop.issuer, hop.session_key) if p}


def _chains(lineage: dict[str, KeyLineage], min_hops: int) -> list[_Chain]:
    """Maximal chains (ending at a session that minted nothing further) that are long, cross accounts or juggle."""
    chained = {
        key: hop
        for key, hop in lineage.items()
        if (hop.via or "").startswith("AssumeRole")
        and hop.issuer_kind in ("Session", "FederatedUser")
        and arns.is_temporary_key(hop.issuer_key)
    }
    parents = {hop.issuer_key for hop in chained.values()}
    found = []
    for leaf in sorted(chained):
        if leaf in parents:
            continue
        chain = _Chain(list(reversed(chain_of(leaf, lineage))))
        if len(chain.hops) < 2:
            continue
        if chain.role_hops >= min_hops or chain.crossings or chain.juggled:
            found.append(chain)
    return sorted(found, key=lambda chain: (chain.start, chain.hops[-1].access_key_id))


def _chain_inside(context: HuntContext, case: Case, chain: _Chain) -> bool:
    """Every hop and every use of the chain's sessions from AWS or trusted addresses (private ones do not count)."""
    if any(context.is_outside(hop.source_ip) for hop in chain.performed):
        return False
    keys = chain.sessions
    if not keys:
        return True
    marks = ",".join("?" * len(keys))
    rows = case.db.execute(f"SELECT DISTINCT source_ip FROM events WHERE access_key IN ({marks})", keys)
    return not any(context.is_outside(ip) for (ip,) in rows)


def role_chain(context: HuntContext) -> Iterator[Finding]:
    min_hops = context.config.thresholds.chain_hops
    chains = _chains(context.lineage, min_hops)
    if not chains:
        return
    issuances = _Issuances(context.case)
    inside = {id(chain): _chain_inside(context, context.case, chain) for chain in chains}
    in_baseline: Counter[tuple[tuple[str, str] | None, ...]] = Counter(
        chain.roles for chain in chains if inside[id(chain)] and chain.start < context.baseline_end
    )
    if context.baseline_case is not None:
        baseline_chains = _chains(context.baseline_case.lineage(), min_hops)
        in_baseline.update(
            chain.roles for chain in baseline_chains if _chain_inside(context, context.baseline_case, chain)
        )
    routine: dict[tuple[tuple[str, str] | None, ...], list[_Chain]] = defaultdict(list)
    for chain in chains:
        counted = 1 if inside[id(chain)] and chain.start < context.baseline_end else 0
        if inside[id(chain)] and in_baseline[chain.roles] - counted >= 1:
            routine[chain.roles].append(chain)
            continue
        finding = _chain_finding(context, chain, issuances)
        if finding is not None:
            yield finding
    for shape, runs in routine.items():
        yield _routine_chain_finding(context, shape, runs, issuances, in_baseline[shape])


def _hop_of(hop: KeyLineage, issuances: _Issuances) -> Hop:
    return Hop(hop.issuer or "?", hop.via or "AssumeRole", hop.session_key or hop.access_key_id, hop.time or "",
               issuances.copies(hop.event_id), hop.source_ip, hop.issuer_key)  # fmt: skip


def _chain_finding(context: HuntContext, chain: _Chain, issuances: _Issuances) -> Finding | None:
    performed = chain.performed
    if not performed:
        return None
    hop_rows = [row for hop in performed if hop.event_id and (row := context.case.event(hop.event_id))]
    hop_ids = {event_id for hop in performed for event_id in issuances.copies(hop.event_id)}
    uses = [row for key in chain.sessions for row in context.key_uses(key)]
    uses.sort(key=lambda row: (row.time, row.event_id))
    did = _activity(context, uses, skip=hop_ids)
    outside_rows = [row for row in hop_rows + uses if context.is_outside_call(row)]
    outside_ips = sorted({row.source_ip for row in outside_rows if row.source_ip})
    automation = any(context.is_automation(principal) for principal in chain.principals())
    crossed = bool(chain.crossings)
    if automation:
        severity = Severity.LOW if did.impact else Severity.INFO
    elif outside_ips and did.impact:
        severity = Severity.CRITICAL if (did.data and did.changes) or crossed or chain.juggled else Severity.HIGH
    elif outside_ips:
        severity = Severity.HIGH if chain.juggled else Severity.MEDIUM
    else:
        severity = Severity.MEDIUM if did.impact or chain.juggled else Severity.LOW
    matched = any(hop.method == "session-match" for hop in chain.hops)
    confidence = (0.85 if outside_ips else 0.6) - (0.1 if matched else 0.0)
    if chain.juggled:
        category, kind = "lateral-movement:role-juggling", "Role juggling"
    elif crossed:
        category, kind = "lateral-movement:cross-account-role-chain", "Cross-account role chain"
    else:
        category, kind = "lateral-movement:role-chain", "Role chain"
    techniques: list[Technique] = [APPLICATION_ACCESS_TOKEN, TEMPORARY_ELEVATED_ACCESS, VALID_CLOUD_ACCOUNTS]
    if did.data:
        techniques.append(DATA_FROM_CLOUD_STORAGE)
    steps = "; ".join(
        f"{hop.time} {hop.issuer} (key {hop.issuer_key or '-'}, from {hop.source_ip or '?'}) {hop.via} "
        f"{_role_label(_role_id(hop.session_key))}{' across accounts' if hop in chain.crossings else ''}"
        for hop in performed
    )
    where = (
        f"Calls came from {', '.join(outside_ips)}, outside AWS and the trusted networks."
        if outside_ips
        else "Every hop and use came from AWS or trusted addresses."
    )
    narrative = (
        f"{kind} of {len(chain.hops)} hop(s) from {_origin(chain.hops[0])}: {steps}. {where} "
        f"The chain's sessions then did: {did.summary()}."
        + (" A principal of the chain is listed as automation." if automation else "")
        + (" A role appears twice in the chain: re-assuming roles keeps the access alive past a session's expiry."
           if chain.juggled else "")
    )  # fmt: skip
    hops = [_hop_of(hop, issuances) for hop in performed] + did.hops
    events = [context.inspect(row) for row in hop_rows] + did.events
    title = f"{kind}: {' → '.join(_role_label(role) for role in chain.roles)}"
    return finding_from(context, "role-chain", category, title, severity, confidence, techniques, events, narrative,
                        hops=hops)  # fmt: skip


def _origin(root: KeyLineage) -> str:
    """Where the chain's first credential came from, in words."""
    how = {
        "AssumeRoleWithSAML": "an Identity Center / SAML sign-in",
        "AssumeRoleWithWebIdentity": "a web-identity sign-in",
    }.get(root.via or "")
    if root.issuer_kind == "Service":
        how = f"a session {root.issuer} issued to a workload"
    if how is None:
        how = f"{root.issuer} ({root.via})"
    event = f" (event {root.event_id} at {root.time})" if root.event_id else ""
    return f"{root.session_key or root.access_key_id}, {how}{event}"


def _routine_chain_finding(
    context: HuntContext,
    shape: tuple[tuple[str, str] | None, ...],
    runs: list[_Chain],
    issuances: _Issuances,
    baseline_runs: int,
) -> Finding:
    """Chains that repeat the baseline's, all from AWS or trusted addresses: one informational finding per shape."""
    positions: dict[int, list[KeyLineage]] = defaultdict(list)
    for chain in runs:
        performed = {hop.access_key_id for hop in chain.performed}
        for index, hop in enumerate(chain.hops):
            if hop.access_key_id in performed:
                positions[index].append(hop)
    hops = []
    for index in sorted(positions):
        members = sorted(positions[index], key=lambda hop: hop.time or "")
        ids = tuple(dict.fromkeys(e for hop in members for e in issuances.copies(hop.event_id)))
        first = members[0]
        role = shape[index]
        dst = arns.role_arn("aws", role[0], role[1]) if role else (first.session_key or first.access_key_id)
        hops.append(Hop(first.issuer or "?", first.via or "AssumeRole", dst, first.time or "", ids, first.source_ip,
                        first.issuer_key))  # fmt: skip
    first_run = runs[0]
    events = [
        context.inspect(row)
        for hop in first_run.performed
        if hop.event_id and (row := context.case.event(hop.event_id))
    ]
    identities = sorted({s for chain in runs for hop in chain.hops if (s := _source_identity(issuances, hop))})
    names = " → ".join(_role_label(role) for role in shape)
    narrative = (
        f"The role chain {names} ran {len(runs)} time(s) between {runs[0].start} and {runs[-1].start}, every hop "
        f"and every use of its sessions from AWS or trusted addresses; the baseline holds {baseline_runs} run(s) "
        f"of the same chain. This looks like routine automation"
        + (f" (source identity {', '.join(identities)})" if identities else "")
        + "; it is listed so the chain is on record. A run from another address is reported on its own."
    )
    return finding_from(
        context, "role-chain", "lateral-movement:routine-role-chain", f"Routine role chain: {names}", Severity.INFO,
        0.9, [APPLICATION_ACCESS_TOKEN, TEMPORARY_ELEVATED_ACCESS], events, narrative, hops=hops,
    )  # fmt: skip


def _source_identity(issuances: _Issuances, hop: KeyLineage) -> str | None:
    issuance = issuances.by_id.get(hop.event_id or "")
    return issuance.source_identity if issuance is not None else None


# -- first-time-role-assumption --------------------------------------------------------------------------------


@dataclass
class _Assumption:
    """One AssumeRole call, with its other account's copy when both were logged."""

    event: HuntEvent  # the copy that knows the caller best
    event_ids: list[str]
    role: tuple[str, str] | None

    @property
    def caller(self) -> str:
        return self.event.row.actor

    @property
    def identity(self) -> str:
        return _identity(self.caller)

    @property
    def account(self) -> str | None:
        return account_of(self.caller)


Window = tuple[str, str]


@dataclass
class _RoleBaseline:
    """When each principal assumed each role in the baseline (None: in the separate baseline case).

    A cross-account call whose caller's copy is not in the case (only the role owner's AWSAccount view) is known
    by the caller's account alone, and compared that way. `knows` leaves out the activity under review and the
    hour around it, so an intrusion inside the baseline period (small cases, early attacks) still counts as new.
    """

    pairs: dict[tuple[str, tuple[str, str] | None], list[str | None]] = field(default_factory=dict)
    accounts: dict[tuple[str | None, tuple[str, str] | None], list[str | None]] = field(default_factory=dict)
    account_only: dict[tuple[str | None, tuple[str, str] | None], list[str | None]] = field(default_factory=dict)
    addresses: dict[tuple[str, tuple[str, str] | None, str], list[str | None]] = field(default_factory=dict)

    def knows(self, assumption: _Assumption, review: Window) -> bool:
        by_account = (assumption.account, assumption.role)
        if assumption.event.row.actor_kind == "Account":
            return _outside_window(self.accounts.get(by_account), review)
        return _outside_window(self.pairs.get((assumption.identity, assumption.role)), review) or _outside_window(
            self.account_only.get(by_account), review
        )

    def knows_address(self, assumption: _Assumption, ip: str, review: Window) -> bool:
        return _outside_window(self.addresses.get((assumption.identity, assumption.role, ip)), review)

    def add(self, issuances: Iterable[Issuance], before: str | None) -> None:
        """Successful AssumeRole calls (not by AWS services); for a cross-account call the caller's copy wins."""
        best: dict[str, Issuance] = {}
        for issuance in issuances:
            if issuance.via != "AssumeRole" or issuance.issuer_kind == "Service":
                continue
            if before is not None and issuance.time >= before:
                continue
            joined = issuance.shared_event_id or issuance.event_id
            known = best.get(joined)
            if known is None or (known.issuer_kind == "Account" and issuance.issuer_kind != "Account"):
                best[joined] = issuance
        for issuance in best.values():
            role = _role_id(issuance.role_arn or issuance.session_key)
            who, account = _identity(issuance.issuer), account_of(issuance.issuer)
            when = issuance.time if before is not None else None
            self.pairs.setdefault((who, role), []).append(when)
            self.accounts.setdefault((account, role), []).append(when)
            if issuance.issuer_kind == "Account":
                self.account_only.setdefault((account, role), []).append(when)
            if issuance.source_ip:
                self.addresses.setdefault((who, role, issuance.source_ip), []).append(when)


def _outside_window(times: list[str | None] | None, window: Window) -> bool:
    return any(time is None or not window[0] <= time <= window[1] for time in times or ())


def first_time_role_assumption(context: HuntContext) -> Iterator[Finding]:
    if not context.baseline_end:
        return
    baseline = _RoleBaseline()
    baseline.add(context.case.issuances(), context.baseline_end)
    if context.baseline_case is not None:
        baseline.add(context.baseline_case.issuances(), None)
    by_pair: dict[tuple[str, tuple[str, str] | None], list[_Assumption]] = defaultdict(list)
    for assumption in _assumptions(context):
        by_pair[(assumption.identity, assumption.role)].append(assumption)
    for group in by_pair.values():
        first = group[0]
        if not baseline.knows(first, _review_window(first.event.time)):
            if first.event.time >= context.baseline_end or not _recurs_daily_from_inside(context, group):
                yield _first_time_finding(context, group)
            continue
        new_places: dict[str, list[_Assumption]] = defaultdict(list)
        for assumption in group:
            ip = assumption.event.row.source_ip
            if ip and context.is_outside_call(assumption.event.row):
                new_places[ip].append(assumption)
        for ip, found in new_places.items():
            if not baseline.knows_address(found[0], ip, _review_window(found[0].event.time)):
                yield _new_address_finding(context, found, ip)


def _review_window(time: str) -> Window:
    """The activity under review: from an hour before its first call to an hour after it."""
    return shift_time(time, -REVIEW_MARGIN_SECONDS), shift_time(time, REVIEW_MARGIN_SECONDS)


def _recurs_daily_from_inside(context: HuntContext, group: list[_Assumption]) -> bool:
    """A pair first seen inside the baseline period, that the case shows again on two other days, always from AWS
    or trusted addresses: a daily job the short baseline caught only once, not a first time."""
    if any(context.is_outside_call(a.event.row) for a in group):
        return False
    days = {a.event.time[:10] for a in group if not a.event.failed}
    return len(days - {group[0].event.time[:10]}) >= 2


def _assumptions(context: HuntContext) -> list[_Assumption]:
    """AssumeRole calls not by AWS services, each cross-account pair of copies once."""
    joined: dict[str, list[HuntEvent]] = defaultdict(list)
    for event in context.events(["AssumeRole"], where="actor_kind != 'Service'"):
        joined[event.row.shared_event_id or event.id].append(event)
    found = []
    for copies in joined.values():
        copies.sort(key=lambda e: (e.row.actor_kind == "Account", e.id))
        best = copies[0]
        role = _role_id(best.facts.get("role_arn") or best.target)
        found.append(_Assumption(best, [e.id for e in copies], role))
    return sorted(found, key=lambda a: (a.event.time, a.event.id))


def _assumption_hop(assumption: _Assumption) -> Hop:
    row = assumption.event.row
    return Hop(row.actor, row.name, assumption.event.target, row.time, tuple(assumption.event_ids), row.source_ip,
               row.access_key)  # fmt: skip


def _sessions_activity(context: HuntContext, group: Sequence[_Assumption], skip: set[str]) -> _Activity:
    keys = [a.event.event.issued.access_key_id for a in group if a.event.event.issued is not None]
    rows = [row for key in dict.fromkeys(k for k in keys if k) for row in context.key_uses(key)]
    rows.sort(key=lambda row: (row.time, row.event_id))
    return _activity(context, rows, skip=skip)


def _first_time_finding(context: HuntContext, group: list[_Assumption]) -> Finding:
    first = group[0]
    succeeded = [a for a in group if not a.event.failed]
    external = first.account is not None and first.account not in context.own_accounts
    crossed = first.role is not None and first.account is not None and first.account != first.role[0]
    ids = {e for a in group for e in a.event_ids}
    did = _sessions_activity(context, succeeded, ids)
    if not succeeded:
        severity, confidence = Severity.LOW, 0.5
    elif external:
        severity, confidence = Severity.HIGH, 0.85
    elif context.is_automation(first.caller):
        severity, confidence = Severity.LOW, 0.5
    else:
        severity, confidence = Severity.MEDIUM, 0.6
    outside = sorted(
        {a.event.row.source_ip for a in group if a.event.row.source_ip and context.is_outside_call(a.event.row)}
    )
    if external:
        category = "initial-access:external-account-assumed-role"
    elif crossed:
        category = "lateral-movement:first-cross-account-role-assumption"
    else:
        category = "lateral-movement:first-role-assumption"
    whom = "an account outside the organisation" if external else ("another account" if crossed else "its account")
    refused = len(group) - len(succeeded)
    narrative = (
        f"{first.caller} (from {first.event.row.source_ip or '?'}) assumed {_role_label(first.role)}, a role of "
        f"{whom}, which it never assumed in the baseline (before {context.baseline_end}): first at {first.event.time}"
        f", {len(succeeded)} time(s) in all"
        + (f", {refused} more refused" if refused else "")
        + (f"; from {', '.join(outside)}, outside AWS and the trusted networks" if outside else "")
        + f". The sessions then did: {did.summary()}."
        + (" The caller's own copy of the call is not in the case (only the role owner's AWSAccount view), so "
           "check that account's trail for who it was." if first.event.row.actor_kind == "Account" else "")
    )  # fmt: skip
    hops = [_assumption_hop(a) for a in group]
    title = f"First assumption of {_role_label(first.role)} by {first.identity}"
    return finding_from(
        context, "first-time-role-assumption", category, title, severity, confidence,
        [VALID_CLOUD_ACCOUNTS, APPLICATION_ACCESS_TOKEN, TEMPORARY_ELEVATED_ACCESS],
        [a.event for a in group] + did.events, narrative, hops=hops + did.hops,
    )  # fmt: skip


def _new_address_finding(context: HuntContext, group: list[_Assumption], ip: str) -> Finding:
    first = group[0]
    ids = {e for a in group for e in a.event_ids}
    succeeded = [a for a in group if not a.event.failed]
    did = _sessions_activity(context, succeeded, ids)
    severity = Severity.MEDIUM if succeeded and not context.is_automation(first.caller) else Severity.LOW
    narrative = (
        f"{first.caller} assumed {_role_label(first.role)} from {ip}, an address outside AWS and the trusted "
        f"networks that it never used to assume this role in the baseline: first at {first.event.time}, "
        f"{len(succeeded)} success(es) of {len(group)}. The sessions then did: {did.summary()}."
    )
    hops = [_assumption_hop(a) for a in group]
    return finding_from(
        context, "first-time-role-assumption", "lateral-movement:role-assumed-from-new-address",
        f"{_role_label(first.role)} assumed from a new address {ip}", severity, 0.5,
        [VALID_CLOUD_ACCOUNTS, APPLICATION_ACCESS_TOKEN], [a.event for a in group] + did.events, narrative,
        hops=hops + did.hops,
    )  # fmt: skip


# -- workload-pivot --------------------------------------------------------------------------------------------


def _pivots(context: HuntContext) -> list[HuntEvent]:
    names = ",".join("?" * len(PIVOT_NAMES))
    where = f"name IN ({names}) OR name LIKE 'CreateFunction%' OR name LIKE 'UpdateFunctionConfiguration%'"
    found = []
    for event in context.events(None, where=where, params=PIVOT_NAMES):
        name = base_event_name(event.row.name)
        if event.row.actor_kind == "Service":
            continue  # AWS acting on its own (Auto Scaling, SSM's own agents)
        if _is_pivot(name, event):
            found.append(event)
    return found


def _is_pivot(name: str, event: HuntEvent) -> bool:
    source, role = event.row.source, event.facts.get("role_passed")
    if source == "ssm.amazonaws.com":
        return name in ("SendCommand", "StartSession")
    if source == "lambda.amazonaws.com":
        return name in LAMBDA_PIVOTS and bool(role)
    return source == "ec2.amazonaws.com" and name in PIVOT_NAMES and bool(role)


def _workloads(event: HuntEvent) -> list[str]:
    """Session names the workload's credentials carry: instance ids, or the function's name."""
    if base_event_name(event.row.name) in LAMBDA_PIVOTS:
        parsed = arns.parse_arn(event.target)
        return [parsed.resource_name] if parsed is not None else []
    return [str(i) for i in event.facts.get("instance_ids") or ()]


def _did_before(context: HuntContext, event: HuntEvent, start: str) -> bool:
    """The caller (a role's sessions counting as the role) made this call successfully in the baseline, and not
    as part of the same operation (an hour or more before the run of pivots began)."""
    before = shift_time(start, -PIVOT_GAP_SECONDS)
    if context.baseline_end:
        before = min(before, context.baseline_end)
    role = _role_arn_of_session(event.row.actor)
    if role is not None:
        prefix = event.row.actor.rsplit("/", 1)[0] + "/"
        where, values = "actor >= ? AND actor < ?", [prefix, prefix[:-1] + "0"]
    else:
        where, values = "actor = ?", [event.row.actor]
    sql = f"SELECT 1 FROM events WHERE {where} AND name = ? AND error_code IS NULL AND time < ? LIMIT 1"
    if context.case.db.execute(sql, (*values, event.row.name, before)).fetchone():
        return True
    if context.baseline_case is None:
        return False
    sql = f"SELECT 1 FROM events WHERE {where} AND name = ? AND error_code IS NULL LIMIT 1"
    return context.baseline_case.db.execute(sql, (*values, event.row.name)).fetchone() is not None


def workload_pivot(context: HuntContext) -> Iterator[Finding]:
    pivots = _pivots(context)
    if not pivots:
        return
    issuances = _Issuances(context.case)
    sessions = _WorkloadSessions(context, issuances)
    for run in _pivot_runs(pivots):
        yield _pivot_finding(context, run, issuances, sessions)


def _pivot_runs(pivots: list[HuntEvent]) -> list[list[HuntEvent]]:
    """Pivots by one caller on the same workload or role within an hour of the run's last, or right after it:
    launching an instance with a profile and then sending it a command is one story, sessions opened on three
    instances in a second are one, a function made meanwhile is another."""
    runs: list[tuple[set[str], list[HuntEvent]]] = []
    for event in pivots:
        labels = set(_workloads(event)) | {str(event.facts.get("role_passed") or "")} - {""}
        labels = labels or {event.target}
        joined = None
        for run_labels, run in reversed(runs):
            if run[0].row.actor != event.row.actor:
                continue
            gap = seconds_between(run[-1].time, event.time)
            if (labels & run_labels and gap <= PIVOT_GAP_SECONDS) or gap <= PIVOT_SAME_OPERATION_SECONDS:
                joined = (run_labels, run)
            break
        if joined is None:
            runs.append((set(labels), [event]))
        else:
            joined[0].update(labels)
            joined[1].append(event)
    return sorted((run for _, run in runs), key=lambda run: (run[0].time, run[0].id))


class _WorkloadSessions:
    """Keys by the session name a workload's credentials carry (instance id, function name), from issuing events
    and from sessions whose issuing event is not in the case."""

    def __init__(self, context: HuntContext, issuances: _Issuances) -> None:
        self.by_name: dict[str, dict[str, KeyLineage]] = defaultdict(dict)
        for issuance in issuances.by_id.values():
            hop = context.lineage.get(issuance.access_key_id or "")
            if issuance.session_name and hop is not None:
                self.by_name[issuance.session_name][hop.access_key_id] = hop
        for hop in context.lineage.values():
            session = arns.role_name_of_session(hop.session_key) if hop.method in WORKLOAD_METHODS else None
            if session is not None:
                self.by_name[session[1]].setdefault(hop.access_key_id, hop)

    def keys(self, names: set[str], start: str, end: str) -> list[KeyLineage]:
        """Keys of those workloads that may have been live between start and end (issued at most 12 h before)."""
        earliest = shift_time(start, -12 * 3600)
        found = {key: hop for name in names for key, hop in self.by_name.get(name, {}).items()}
        return [hop for hop in found.values() if not hop.time or earliest <= hop.time <= end]


def _pivot_finding(
    context: HuntContext, run: list[HuntEvent], issuances: _Issuances, sessions: _WorkloadSessions
) -> Finding:
    first, last = run[0], run[-1]
    succeeded = [event for event in run if not event.failed]
    names = {name for event in succeeded for name in _workloads(event)}
    window_end = shift_time(last.time, WORKLOAD_WINDOW_SECONDS)
    keys = sessions.keys(names, first.time, window_end)
    issued = sorted(
        (hop for hop in keys if hop.event_id and hop.time and first.time <= hop.time <= window_end),
        key=lambda hop: hop.time or "",
    )
    rows = [
        row for hop in keys for row in context.key_uses(hop.access_key_id, after=first.time) if row.time <= window_end
    ]
    rows.sort(key=lambda row: (row.time, row.event_id))
    # The workload's key used from the caller's own address: the command read it out. Not when the caller is a
    # workload itself (a CI runner and the instances it starts can share a NAT gateway's address).
    caller_ips = set() if _from_workload(context, first) else {e.row.source_ip for e in run if e.row.source_ip}
    elsewhere = [row for row in rows if context.is_outside_call(row) or row.source_ip in caller_ips]
    did = _activity(context, rows)
    routine = all(_did_before(context, event, first.time) for event in run)
    caller_outside = any(context.is_outside_call(event.row) for event in run)
    if elsewhere:
        severity, confidence = Severity.HIGH, 0.85
    elif not succeeded:
        severity, confidence = Severity.LOW, 0.4
    elif routine:
        severity, confidence = Severity.INFO, 0.5
    elif caller_outside:
        severity, confidence = Severity.MEDIUM, 0.6
    else:
        severity, confidence = Severity.LOW, 0.5
    kinds = sorted({base_event_name(event.row.name) for event in run})
    techniques: list[Technique] = []
    if {"SendCommand"} & set(kinds):
        techniques.append(CLOUD_ADMINISTRATION_COMMAND)
    if {"StartSession"} & set(kinds):
        techniques.append(CLOUD_SERVICES)
    if set(kinds) & LAMBDA_PIVOTS:
        techniques.append(SERVERLESS_EXECUTION)
    if set(kinds) & {"RunInstances", "AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation"}:
        techniques.append(CREATE_CLOUD_INSTANCE)
    techniques.append(TEMPORARY_ELEVATED_ACCESS)
    if elsewhere:
        techniques.append(INSTANCE_METADATA)
    steps = "; ".join(_pivot_step(event) for event in run)
    stolen = ""
    if elsewhere:
        ips = sorted({row.source_ip for row in elsewhere if row.source_ip})
        stolen = (
            f" The workload's credentials were then used from {', '.join(ips)}"
            + (" (the caller's own address)" if caller_ips & set(ips) else "")
            + f", not from the workload: {_activity(context, elsewhere).summary()}."
        )
    then = (
        f" The workload's session ({len(rows)} call(s) within {WORKLOAD_WINDOW_SECONDS // 3600} h) did: "
        f"{did.summary()}."
        if rows
        else " No call by the workload's session follows in the case."
    )
    narrative = (
        f"{first.row.actor} (key {first.row.access_key or '-'}, from {first.row.source_ip or '?'}) took control of "
        f"workloads {len(run)} time(s): {steps}."
        + (" The caller did not do this in the baseline." if not routine else " The caller did this in the baseline.")
        + then
        + stolen
    )
    service_hops = [_hop_of(hop, issuances) for hop in issued]
    service_events = [
        context.inspect(row) for hop in issued if hop.event_id and (row := context.case.event(hop.event_id))
    ]
    hops = [event.hop() for event in run] + service_hops + did.hops
    title = f"Workload pivot by {first.row.actor}: {', '.join(kinds)}"
    category = "lateral-movement:workload-credentials-taken" if elsewhere else "lateral-movement:workload-pivot"
    return finding_from(context, "workload-pivot", category, title, severity, confidence, techniques,
                        [*run, *service_events, *did.events], narrative, hops=hops)  # fmt: skip


def _from_workload(context: HuntContext, event: HuntEvent) -> bool:
    """The caller's key descends from a key AWS issued to a workload."""
    key = event.row.access_key
    return key is not None and any(_workload_issued(hop) for hop in context.chain(key))


def _pivot_step(event: HuntEvent) -> str:
    refused = f" (refused: {event.row.error_code})" if event.failed else ""
    role = event.facts.get("role_passed")
    document = event.facts.get("document_name")
    extra = f" passing {role}" if role else (f" with {document}" if document else "")
    return f"{event.time} {event.row.name} on {event.target}{extra}{refused}"


# -- workload-key-outside-aws ----------------------------------------------------------------------------------


def _workload_issued(hop: KeyLineage) -> bool:
    return hop.method in WORKLOAD_METHODS or (hop.issuer_kind == "Service" and hop.issuer in WORKLOAD_SERVICES)


def workload_key_outside_aws(context: HuntContext) -> Iterator[Finding]:
    workload_keys = {key: hop for key, hop in context.lineage.items() if _workload_issued(hop)}
    if not workload_keys:
        return
    outside: list[EventRow] = []
    keys = sorted(workload_keys)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        pairs = context.case.db.execute(
            f"SELECT DISTINCT access_key, source_ip FROM events WHERE access_key IN ({marks})", chunk
        ).fetchall()
        for key, ip in pairs:
            if context.is_outside_use(ip, key):
                outside.extend(context.rows("access_key=? AND source_ip=?", (key, ip)))
    outside.sort(key=lambda row: (row.time, row.event_id))
    issuances = _Issuances(context.case)
    events = [context.inspect(row) for row in outside]
    for run in bursts(events, OUTSIDE_USE_GAP_SECONDS, key=lambda event: event.row.actor):
        yield _outside_use_finding(context, run, workload_keys, issuances)


def _outside_use_finding(
    context: HuntContext, run: list[HuntEvent], workload_keys: dict[str, KeyLineage], issuances: _Issuances
) -> Finding:
    rows = [event.row for event in run]
    did = _activity(context, rows)
    keys = list(dict.fromkeys(row.access_key for row in rows if row.access_key))
    lineage = [workload_keys[key] for key in keys]
    issued_rows = [row for hop in lineage if hop.event_id and (row := context.case.event(hop.event_id))]
    ips = sorted({row.source_ip for row in rows if row.source_ip})
    private = all(is_private_address(ip) for ip in ips)
    severity = Severity.CRITICAL if did.data or did.iam_changes else Severity.HIGH
    confidence = 0.75 if private else 0.9
    issuer = lineage[0].issuer or "an AWS service"
    issued_at = ", ".join(f"{hop.access_key_id} issued by {hop.issuer} at {hop.time} ({hop.method})" for hop in lineage)
    narrative = (
        f"{run[0].row.actor}'s credentials, which {issuer} issues to the workload, were used from {', '.join(ips)} "
        f"({'a private address outside any VPC endpoint' if private else 'outside AWS'}) between {run[0].time} and "
        f"{run[-1].time}: {did.summary()}. Keys: {issued_at}. A workload's key is only ever used from the workload; "
        "used elsewhere, it was taken from the instance metadata service, the function's environment or the task's "
        "credential endpoint. Revoke the role's sessions (an inline deny on aws:TokenIssueTime) and look at the "
        "workload for how it was reached."
    )
    hops = [_hop_of(hop, issuances) for hop in lineage if hop.event_id] + did.hops
    techniques = [INSTANCE_METADATA, APPLICATION_ACCESS_TOKEN, VALID_CLOUD_ACCOUNTS]
    if did.data:
        techniques.append(DATA_FROM_CLOUD_STORAGE)
    return finding_from(
        context, "workload-key-outside-aws", "credential-access:instance-credentials-used-outside-aws",
        f"Workload credentials of {run[0].row.actor} used from {', '.join(ips)}", severity, confidence, techniques,
        [context.inspect(row) for row in issued_rows] + did.events, narrative, hops=hops,
    )  # fmt: skip


HUNTS = [
    HuntSpec(
        name="role-chain",
        family="lateral",
        title="Role chains across accounts, long chains and role juggling",
        description="Sessions that assume further roles, followed through credential lineage: chains of at "
        "least `chain_hops` role assumptions, any chain crossing accounts (both accounts' copies of each hop), and "
        "chains that come back to a role (role juggling), with what the chain's sessions did. Chains from outside "
        "AWS that read data or change things are high or critical; chains that repeat the baseline's from AWS "
        "addresses (CI pipelines) are one informational finding per chain.",
        techniques=(APPLICATION_ACCESS_TOKEN, TEMPORARY_ELEVATED_ACCESS, VALID_CLOUD_ACCOUNTS),
        run=role_chain,
    ),
    HuntSpec(
        name="first-time-role-assumption",
        family="lateral",
        title="A principal assumes a role it never assumed before",
        description="AssumeRole by a principal (a role's sessions count as the role) into a role it did not "
        "assume in the baseline: medium, high when the caller is an account outside the organisation. Also a "
        "known principal-role pair from a new address outside AWS. AWS services' own assumptions and sign-ins "
        "(SAML, web identity) are left to other hunts.",
        techniques=(VALID_CLOUD_ACCOUNTS, APPLICATION_ACCESS_TOKEN, TEMPORARY_ELEVATED_ACCESS),
        run=first_time_role_assumption,
    ),
    HuntSpec(
        name="workload-pivot",
        family="lateral",
        title="Roles handed to new workloads, commands run on instances",
        description="RunInstances or instance-profile association passing a role, Lambda CreateFunction or "
        "UpdateFunctionConfiguration passing a role, SSM SendCommand and StartSession: who did it, which role, and "
        "what the workload's session did next. High when the workload's credentials are then used from outside "
        "AWS or from the caller's own address; callers who did the same in the baseline are informational.",
        techniques=(CLOUD_ADMINISTRATION_COMMAND, CLOUD_SERVICES, SERVERLESS_EXECUTION, CREATE_CLOUD_INSTANCE),
        run=workload_pivot,
    ),
    HuntSpec(
        name="workload-key-outside-aws",
        family="lateral",
        title="A workload's credentials used from outside AWS",
        description="Session keys AWS issued to an EC2 instance, Lambda function or ECS task, used from an address "
        "outside AWS and the trusted networks (a private address counts unless the call came through a VPC "
        "endpoint). High; critical when those calls read data or change IAM.",
        techniques=(INSTANCE_METADATA, APPLICATION_ACCESS_TOKEN, VALID_CLOUD_ACCOUNTS),
        run=workload_key_outside_aws,
    ),
]
