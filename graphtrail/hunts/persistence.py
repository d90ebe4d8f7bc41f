"""Persistence chains: a principal creates or takes over an identity or a credential, and the thing it made is
then used, ideally (for the attacker) from somewhere else.

The steps are IAM and STS calls that leave a door open: a new user, an access key for another user (or for
root), a console password set on another user, an admin policy or a privileged group, a role trusting an
outside account, a federation token. Steps that touch the same user, key, role or federated user are one
chain, and the chain's uses are found through what each step made: the new user's calls, the new key's calls,
console sign-ins as the user whose password was set, AssumeRole calls by the outside account (and what the
session did), the federation token's key. The whole chain is one finding, so a responder sees door and
visitor together. Severity follows how far the chain got and from where; a principal's own new key used where
it always works (a rotation) is not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from graphtrail import arn as arns
from graphtrail.findings import Finding, Severity, Technique
from graphtrail.grouping import connected_groups
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import (
    ADDITIONAL_CLOUD_CREDENTIALS,
    ADDITIONAL_CLOUD_ROLES,
    CREATE_CLOUD_ACCOUNT,
    VALID_CLOUD_ACCOUNTS,
    account_of,
    finding_from,
    who,
)
from graphtrail.hunts.context import HuntContext, HuntEvent, seconds_between
from graphtrail.hunts.keys import Addresses, short_name, use_hops

USER_CALLS = ("CreateUser", "CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "AddUserToGroup")
GRANT_CALLS = ("AttachUserPolicy", "AttachGroupPolicy", "AttachRolePolicy", "PutUserPolicy", "PutGroupPolicy",
               "PutRolePolicy", "CreatePolicyVersion")  # fmt: skip
TRUST_CALLS = ("CreateRole", "UpdateAssumeRolePolicy")
CALLS = (*USER_CALLS, *GRANT_CALLS, *TRUST_CALLS, "GetFederationToken")
MAX_USES = 50  # first calls shown per thing made
MAX_CHAIN_USES = 200  # and per chain
CONTEXT_WINDOW_SECONDS = 86_400  # a non-qualifying step (a plain policy, a role) joins a chain within a day
PRIVILEGED_GROUP_WORDS = ("admin", "poweruser", "power-user", "root", "owner", "superuser", "fullaccess", "iam")

# Which kind of door names the chain, most telling first.
KINDS = (
    ("trust-policy-backdoor", "persistence:trust-policy-backdoor"),
    ("federation-token", "persistence:federation-token"),
    ("login-profile-for-other-user", "persistence:login-profile-for-other-user"),
    ("root-access-key-created", "persistence:root-access-key-created"),
    ("new-iam-user", "persistence:new-iam-user"),
    ("access-key-for-other-user", "persistence:access-key-for-other-user"),
    ("admin-policy-attached", "privilege-escalation:admin-policy-attached"),
    ("privileged-group", "privilege-escalation:added-to-privileged-group"),
    ("access-key-created", "persistence:access-key-created"),
)


@dataclass(frozen=True)
class Step:
    """One call of a chain: what it opened, what it is about, and where its uses will show."""

    event: HuntEvent
    kind: str
    label: str  # for the title
    phrase: str  # for the narrative
    subjects: frozenset[str]
    qualifies: bool  # enough alone to start a chain (a plain CreateRole or non-admin policy only joins one)
    strong: bool  # admin rights, outside trust, a root key or a privileged group
    technique: Technique
    own_key: bool = False
    users: tuple[str, ...] = ()  # principals whose later calls are uses
    logins: tuple[str, ...] = ()  # users whose later console sign-ins are uses
    keys: tuple[str, ...] = ()  # keys whose calls are uses
    trust: tuple[tuple[str, str], ...] = ()  # (role id, outside account): that account's AssumeRole is a use


def persistence_chain(context: HuntContext) -> Iterator[Finding]:
    events = list(context.events(CALLS))
    admin_groups = {
        _principal_id(event.target) for event in events if event.row.name in ("AttachGroupPolicy", "PutGroupPolicy")
        and event.facts.get("admin") and not event.failed
    }  # fmt: skip
    steps = [step for event in events if (step := _step(context, event, admin_groups)) is not None]
    if not any(step.qualifies for step in steps):
        return
    addresses = Addresses(context)
    hunt = _ChainHunt(context, addresses)
    for chain in _chains(steps):
        finding = hunt.finding(chain)
        if finding is not None:
            yield finding


# -- steps ----------------------------------------------------------------------------------------------------


def _principal_id(arn: str | None) -> str:
    """IAM users, roles and groups by account and name: the same principal is named with and without its path."""
    parsed = arns.parse_arn(arn)
    if parsed is None or parsed.service != "iam" or parsed.resource_type not in ("user", "role", "group"):
        return arn or ""
    return f"{parsed.resource_type}:{parsed.account}:{parsed.resource_name}"


def _step(context: HuntContext, event: HuntEvent, admin_groups: set[str]) -> Step | None:
    name, facts, target, ok = event.row.name, event.facts, event.target, not event.failed
    subject = _principal_id(target)
    short = short_name(target) if target else "?"
    if name == "CreateUser":
        return Step(event, "new-iam-user", f"new user {short}", f"created IAM user {short}", frozenset({subject}),
                    True, False, CREATE_CLOUD_ACCOUNT, users=(target,) if ok else ())  # fmt: skip
    if name == "CreateAccessKey":
        return _access_key_step(event)
    if name in ("CreateLoginProfile", "UpdateLoginProfile"):
        if not facts.get("for_other_user"):
            return None  # a user setting their own password
        return Step(event, "login-profile-for-other-user", f"console password for {short}",
                    f"set a console password for {short} ({name})", frozenset({subject}), True, False,
                    ADDITIONAL_CLOUD_CREDENTIALS, logins=(target,) if ok else ())  # fmt: skip
    if name == "AddUserToGroup":
        group = str(facts.get("group") or "?")
        account = account_of(target) or ""
        privileged = f"group:{account}:{group}" in admin_groups or any(
            word in group.lower() for word in PRIVILEGED_GROUP_WORDS
        )
        return Step(event, "privileged-group", f"{short} in group {group}", f"added {short} to group {group}"
                    + (" (privileged)" if privileged else ""), frozenset({subject}), privileged, privileged,
                    ADDITIONAL_CLOUD_ROLES)  # fmt: skip
    if name in GRANT_CALLS:
        return _grant_step(event, subject, short)
    if name in TRUST_CALLS:
        return _trust_step(context, event, subject, short)
    if name == "GetFederationToken":
        issued = event.event.issued
        key = issued.access_key_id if issued is not None and ok else None
        subjects = frozenset(s for s in (target, key) if s)
        return Step(event, "federation-token", f"federation token for {short}",
                    f"minted a federation token{' ' + key if key else ''} acting as federated user {short}",
                    subjects, True, False, ADDITIONAL_CLOUD_CREDENTIALS, keys=(key,) if key else (),
                    users=(target,) if ok and not key and target else ())  # fmt: skip
    return None


def _access_key_step(event: HuntEvent) -> Step:
    row, target = event.row, event.target
    key = target if arns.is_access_key_id(target) else None
    owner = str(event.effect.target.props.get("owner") or (row.actor if key else target) or row.actor)
    root = row.actor_kind == "Root" and owner == row.actor
    for_other = bool(event.facts.get("for_other_user")) or owner != row.actor
    subjects = frozenset(s for s in (_principal_id(owner), key) if s)
    keys = (key,) if key and not event.failed else ()
    named = key or "(refused, no key)"
    if root:
        return Step(event, "root-access-key-created", "root access key", f"created root access key {named}",
                    subjects, True, True, ADDITIONAL_CLOUD_CREDENTIALS, keys=keys)  # fmt: skip
    if for_other:
        return Step(event, "access-key-for-other-user", f"access key for {short_name(owner)}",
                    f"created access key {named} for {short_name(owner)}", subjects, True, False,
                    ADDITIONAL_CLOUD_CREDENTIALS, keys=keys)  # fmt: skip
    return Step(event, "access-key-created", "own new access key", f"created access key {named} for itself",
                subjects, True, False, ADDITIONAL_CLOUD_CREDENTIALS, own_key=True, keys=keys)  # fmt: skip


def _grant_step(event: HuntEvent, subject: str, short: str) -> Step:
    facts, name = event.facts, event.row.name
    admin = bool(facts.get("admin"))
    if name == "CreatePolicyVersion":
        default = bool(facts.get("set_as_default"))
        admin = admin and default  # a version grants nothing until it is the default
        what = f"made a new{' default' if default else ''} version of policy {short}" + (
            " granting admin" if admin else ""
        )
    elif name.startswith("Attach"):
        policy = str(facts.get("policy_arn") or "?").rsplit("/", 1)[-1]
        what = f"attached {policy} to {short}"
    else:
        what = f"put inline policy {facts.get('policy_name') or '?'}{' (admin)' if admin else ''} on {short}"
    return Step(event, "admin-policy-attached", f"admin rights for {short}" if admin else f"policy on {short}",
                what, frozenset({subject}), admin, admin, ADDITIONAL_CLOUD_ROLES)  # fmt: skip


def _trust_step(context: HuntContext, event: HuntEvent, subject: str, short: str) -> Step:
    facts = event.facts
    outside = tuple(
        str(account) for account in facts.get("external_accounts") or () if str(account) not in context.own_accounts
    )
    wildcard = bool(facts.get("wildcard_principal"))
    opened = bool(outside) or wildcard
    whom = ", ".join([*outside, *(["anyone (*)"] if wildcard else [])])
    verb = "created role" if event.row.name == "CreateRole" else "rewrote the trust policy of role"
    phrase = f"{verb} {short}" + (f" so that outside account(s) {whom} may assume it" if opened else "")
    trust = tuple((subject, account) for account in outside) if not event.failed else ()
    return Step(event, "trust-policy-backdoor", f"{short} trusting {whom}" if opened else f"role {short}",
                phrase, frozenset({subject}), opened, opened, ADDITIONAL_CLOUD_ROLES, trust=trust)  # fmt: skip


# -- chains ---------------------------------------------------------------------------------------------------


def _chains(steps: list[Step]) -> list[list[Step]]:
    """Steps joined by a shared subject; steps that only join (no door alone) must sit within a day of a door."""
    chains = []
    for group in connected_groups(steps, lambda step: step.subjects):
        doors = [step for step in group if step.qualifies]
        if not doors:
            continue
        kept = [
            step for step in group if step.qualifies
            or min(abs(seconds_between(step.event.time, door.event.time)) for door in doors) <= CONTEXT_WINDOW_SECONDS
        ]  # fmt: skip
        chains.append(sorted(kept, key=lambda step: (step.event.time, step.event.id)))
    return sorted(chains, key=lambda chain: (chain[0].event.time, chain[0].event.id))


class _ChainHunt:
    def __init__(self, context: HuntContext, addresses: Addresses) -> None:
        self.context = context
        self.addresses = addresses
        self._console_keys: dict[str, list[str]] | None = None
        self._partners: dict[str, bool] = {}

    def finding(self, chain: list[Step]) -> Finding | None:
        context, addresses = self.context, self.addresses
        doors = [step for step in chain if step.qualifies]
        opened = [step for step in doors if not step.event.failed]
        if all(step.own_key for step in doors) and not opened:
            return None  # a refused attempt at one's own key is nothing
        step_ids = {step.event.id for step in chain}
        uses = [use for use in self._uses(chain) if use.id not in step_ids]
        creators = {self._owner(step.event) for step in doors}
        creation_ips = {step.event.row.source_ip for step in doors if step.event.row.source_ip}
        created_unfamiliar = any(
            addresses.known(self._owner(step.event))
            and addresses.unfamiliar(step.event.row.source_ip, [self._owner(step.event)])
            for step in opened
        )
        new_ips = list(dict.fromkeys(
            use.row.source_ip for use in uses
            if use.row.source_ip and addresses.unfamiliar(use.row.source_ip, creators, creation_ips)
        ))  # fmt: skip
        outsiders = self._outside_assumers(chain, uses)
        strong = any(step.strong for step in opened)
        if not opened:
            severity = Severity.LOW
        elif all(step.own_key for step in doors):
            if not (created_unfamiliar or new_ips):
                return None  # a rotation: own new key, used where its owner always works
            severity = Severity.HIGH if created_unfamiliar and new_ips else Severity.MEDIUM
        elif not uses and not strong and not created_unfamiliar and all(s.kind == "new-iam-user" for s in opened):
            return None  # a bare new user without credentials or rights, never seen acting
        elif new_ips or outsiders:
            severity = Severity.CRITICAL
        elif strong or created_unfamiliar:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        if severity > Severity.MEDIUM and not (new_ips or outsiders) and all(map(context.is_automation, creators)):
            severity = Severity.MEDIUM  # configured automation building identities from its usual places
        return self._report(chain, doors, opened, uses, severity, new_ips, outsiders, created_unfamiliar)

    def _owner(self, event: HuntEvent) -> str:
        row = event.row
        return self.addresses.owner_of(row.actor, row.actor_kind, row.access_key)

    # -- what the chain made, in use ----------------------------------------------------------------------

    def _uses(self, chain: list[Step]) -> list[HuntEvent]:
        found: dict[str, HuntEvent] = {}
        for step in chain:
            since = step.event.time
            for user in step.users:
                names = sorted({user, *_without_path(user)})
                marks = ",".join("?" * len(names))
                self._add(found, f"actor IN ({marks}) AND time >= ? AND NOT (name = 'ConsoleLogin' AND "
                          "error_code IS NOT NULL)", (*names, since))  # fmt: skip
            for key in step.keys:
                self._add(found, "access_key = ? AND time >= ?", (key, since))
            for user in step.logins:
                self._logins(found, user, since)
            if step.trust:
                self._assumptions(found, step)
        return sorted(found.values(), key=lambda event: (event.time, event.id))

    def _add(self, found: dict[str, HuntEvent], where: str, params: tuple[object, ...]) -> list[HuntEvent]:
        added: list[HuntEvent] = []
        budget = min(MAX_USES, MAX_CHAIN_USES - len(found))
        if budget <= 0:
            return added  # a chain repeated all day (a token broker, a rotation job) shows its first uses only
        for row in self.context.case.events(where, params, limit=budget):
            if row.event_id not in found:
                found[row.event_id] = event = self.context.inspect(row)
                added.append(event)
        return added

    def _logins(self, found: dict[str, HuntEvent], user: str, since: str) -> None:
        """Console sign-ins as the user whose password was set, and what those console sessions did."""
        names = sorted({user, *_without_path(user)})
        marks = ",".join("?" * len(names))
        logins = self._add(found, f"actor IN ({marks}) AND name = 'ConsoleLogin' AND error_code IS NULL AND "
                           "time >= ?", (*names, since))  # fmt: skip
        for login in logins:
            for key in self.console_keys.get(login.id, []):
                self._add(found, "access_key = ? AND time >= ?", (key, login.time))

    @property
    def console_keys(self) -> dict[str, list[str]]:
        """Session keys by the ConsoleLogin event that minted them (credential lineage)."""
        if self._console_keys is None:
            self._console_keys = {}
            for lineage in self.context.lineage.values():
                if lineage.method == "console-session" and lineage.event_id:
                    self._console_keys.setdefault(lineage.event_id, []).append(lineage.access_key_id)
        return self._console_keys

    def _assumptions(self, found: dict[str, HuntEvent], step: Step) -> None:
        """AssumeRole of the backdoored role by the outside account (its AWSAccount copy or its own principals),
        and the calls of the sessions it got."""
        accounts = sorted({account for _, account in step.trust})
        roles = {role for role, _ in step.trust}
        clause = " OR ".join(["actor = ?", "actor LIKE ?"] * len(accounts))
        params = [value for account in accounts for value in (account, f"arn:%:%::{account}:%")]
        # names=None: HuntContext.events binds `params` before the name list, so the name goes in `where`
        candidates = self.context.events(
            None, where=f"name = 'AssumeRole' AND time >= ? AND ({clause})", params=(step.event.time, *params)
        )
        for event in candidates:
            if _principal_id(str(event.facts.get("role_arn") or "")) not in roles or event.id in found:
                continue
            found[event.id] = event
            issued = event.event.issued
            if issued is not None and issued.access_key_id and not event.failed:
                self._add(found, "access_key = ? AND time >= ?", (issued.access_key_id, event.time))

    def _outside_assumers(self, chain: list[Step], uses: list[HuntEvent]) -> list[str]:
        """Outside accounts that assumed a role this chain opened to them, and had not done so in the baseline."""
        trusted = {account for step in chain for _, account in step.trust}
        found = []
        for use in uses:
            if use.row.name != "AssumeRole" or use.failed:
                continue
            account = account_of(use.row.actor)
            if account in trusted and account not in found and not self._partner(account):
                found.append(account)
        return found

    def _partner(self, account: str) -> bool:
        """An outside account that already assumed roles here during the baseline: a known partner."""
        if account not in self._partners:
            source = self.context.baseline_case or self.context.case
            sql = "SELECT 1 FROM events WHERE name = 'AssumeRole' AND (actor = ? OR actor LIKE ?)"
            params: tuple[object, ...] = (account, f"arn:%:%::{account}:%")
            if self.context.baseline_case is None:
                sql += " AND time < ?"
                params = (*params, self.context.baseline_end)
            self._partners[account] = source.db.execute(sql + " LIMIT 1", params).fetchone() is not None
        return self._partners[account]

    # -- the finding -----------------------------------------------------------------------------------------

    def _report(
        self, chain: list[Step], doors: list[Step], opened: list[Step], uses: list[HuntEvent], severity: Severity,
        new_ips: list[str], outsiders: list[str], created_unfamiliar: bool,
    ) -> Finding:  # fmt: skip
        kinds = {step.kind for step in (opened or doors)}
        kind, category = next((k, c) for k, c in KINDS if k in kinds)
        labels = list(dict.fromkeys(step.label for step in (opened or doors)))
        if not opened:
            outcome = "refused"
        elif new_ips:
            outcome = f"used from new address {new_ips[0]}"
        elif outsiders:
            outcome = f"used by outside account {outsiders[0]}"
        elif uses:
            outcome = "used"
        else:
            outcome = "not used in these logs"
        title = f"Persistence: {', '.join(labels[:4])}{'…' if len(labels) > 4 else ''} ({outcome})"
        techniques = list(dict.fromkeys(step.technique for step in doors))
        if uses:
            techniques.append(VALID_CLOUD_ACCOUNTS)
        confidence = {Severity.LOW: 0.35, Severity.MEDIUM: 0.55, Severity.HIGH: 0.75}.get(severity, 0.9)
        hops = [step.event.hop() for step in chain] + use_hops(uses)
        narrative = _narrative(chain, uses, new_ips, outsiders, created_unfamiliar, opened, kind)
        return finding_from(
            self.context, "persistence-chain", category, title, severity, confidence, techniques,
            [step.event for step in chain] + uses, narrative, hops=hops,
        )  # fmt: skip


def _narrative(
    chain: list[Step], uses: list[HuntEvent], new_ips: list[str], outsiders: list[str], created_unfamiliar: bool,
    opened: list[Step], kind: str,
) -> str:  # fmt: skip
    parts = []
    previous_actor = None
    for step in chain:
        row = step.event.row
        actor = who(step.event) if row.actor != previous_actor else "then"
        refused = f" (refused: {row.error_code})" if step.event.failed else ""
        parts.append(f"{step.event.time} {actor} {step.phrase}{refused}")
        previous_actor = row.actor
    text = "; ".join(parts) + "."
    if uses:
        by = list(dict.fromkeys(f"{use.row.actor}" + (f" (key {use.row.access_key})" if use.row.access_key else "")
                                for use in uses))  # fmt: skip
        ips = list(dict.fromkeys(use.row.source_ip or "?" for use in uses))
        names = list(dict.fromkeys(use.row.name for use in uses))
        text += (
            f" What it made was then used: {len(uses)} call(s) from {uses[0].time} by {', '.join(by[:3])} from "
            f"{', '.join(ips[:4])}: {', '.join(names[:10])}{'…' if len(names) > 10 else ''}."
        )
    else:
        text += " Nothing in these logs used what it made (yet)."
    if new_ips:
        text += (
            f" The use came from {', '.join(new_ips)}, where neither the creator nor anyone in the organisation "
            "worked during the baseline: the chain is complete and someone else holds the door."
        )
    if outsiders:
        text += f" Outside account(s) {', '.join(outsiders)} assumed the role, which they had never done before."
    if created_unfamiliar:
        text += " The creator itself acted from an address it had never used."
    if not opened:
        text += " Every step was refused; someone tried to leave a door open."
    advice = {
        "trust-policy-backdoor": "Restore the role's trust policy and revoke its sessions.",
        "federation-token": "Federation tokens cannot be revoked one by one: deactivate the issuing user's key "
        "and attach a deny-all policy with an aws:TokenIssueTime condition to that user.",
        "login-profile-for-other-user": "Reset the user's password and review its console sessions.",
    }.get(kind, "Deactivate the credentials created, delete the identities, and detach the policies granted.")
    return f"{text} {advice}"


def _without_path(arn: str) -> Iterable[str]:
    """A user ARN without its path: userIdentity keeps the path, a request names the user by name only."""
    parsed = arns.parse_arn(arn)
    if parsed is not None and parsed.service == "iam" and parsed.resource_type == "user" and "/" in parsed.resource:
        yield f"arn:{parsed.partition}:iam::{parsed.account}:user/{parsed.resource_name}"


HUNTS = [
    HuntSpec(
        name="persistence-chain",
        family="persistence",
        title="Identity or credential created or taken over, then used",
        description="CreateUser, CreateAccessKey for another user or for root, Create/UpdateLoginProfile on another "
        "user, AddUserToGroup into a privileged group, admin Attach*/Put*Policy or default CreatePolicyVersion, "
        "CreateRole/UpdateAssumeRolePolicy trusting an outside account, and GetFederationToken; steps about the "
        "same user, key or role are one chain, followed to its uses (the new user's or key's calls, a console "
        "sign-in as the user whose password was set, AssumeRole by the outside account, the federation token's "
        "key). Critical when used from an address the creator never used or by a new outside account; high for "
        "admin rights, outside trust or root keys, or a creator acting from a new address; medium otherwise; "
        "low when refused. A principal's own new key used from its usual places is not reported.",
        techniques=(CREATE_CLOUD_ACCOUNT, ADDITIONAL_CLOUD_CREDENTIALS, ADDITIONAL_CLOUD_ROLES, VALID_CLOUD_ACCOUNTS),
        run=persistence_chain,
    ),
]
