"""Containment steps for an incident: what to switch off or undo now, naming the exact key, user, role, policy,
trail, group, snapshot or bucket, with the AWS CLI command that does it and the events that call for it.

Steps come from two places: the incident's credentials (each key: deactivate it, or revoke the sessions of the
role or user it acts as) and what the attacker changed, read from the effect of each successful cited event
(and of every identity or credential the compromised keys created afterwards). Every value placed in a command
is shell-quoted: names come from the logs, and logs are written by the attacker too.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from graphtrail import arn as arns
from graphtrail.case import EventRow
from graphtrail.cloudtrail.actions.model import ActionEffect
from graphtrail.findings import Severity
from graphtrail.hunts.context import HuntContext
from graphtrail.incidents import Incident
from graphtrail.paths import BlastRadius
from graphtrail.report.model import ContainmentStep

CONTAIN_FROM = Severity.MEDIUM  # below it, an incident is for review: no step is proposed

# Order of the steps in a report: stop the attacker's access first, then undo what they changed.
KIND_ORDER = (
    "deactivate-access-key",
    "delete-access-key",
    "delete-root-access-key",
    "secure-root-user",
    "revoke-role-sessions",
    "revoke-user-sessions",
    "suspend-identity-center-user",
    "isolate-instance",
    "delete-login-profile",
    "detach-policy",
    "delete-inline-policy",
    "remove-trust-principal",
    "delete-user",
    "delete-role",
    "restore-trail-logging",
    "recreate-trail",
    "restore-event-selectors",
    "restore-guardduty",
    "revoke-security-group-ingress",
    "unshare-snapshot",
    "restore-bucket-policy",
    "delete-bucket-replication",
    "block-addresses",
)


@dataclass
class _Draft:
    kind: str
    subject: str
    title: str
    why: str
    commands: tuple[str, ...]
    event_ids: list[str] = field(default_factory=list)
    rank: str = ""


class _Steps:
    """Steps keyed by (kind, subject): the same action on the same thing is one step citing every event."""

    def __init__(self) -> None:
        self.drafts: dict[tuple[str, str], _Draft] = {}

    def add(
        self,
        kind: str,
        subject: str,
        title: str,
        why: str,
        commands: Sequence[str],
        event_ids: Sequence[str],
        *,
        rank: str = "",
    ) -> None:
        """`rank`: of two drafts for the same thing, the higher rank's wording wins (e.g. the later cut-off)."""
        draft = self.drafts.get((kind, subject))
        if draft is None:
            draft = self.drafts[(kind, subject)] = _Draft(kind, subject, title, why, tuple(commands), rank=rank)
        elif rank > draft.rank:
            draft.title, draft.why, draft.commands, draft.rank = title, why, tuple(commands), rank
        draft.event_ids.extend(e for e in event_ids if e not in draft.event_ids)

    def has(self, kind: str, subject: str) -> bool:
        return (kind, subject) in self.drafts

    def done(self) -> tuple[ContainmentStep, ...]:
        ordered = sorted(self.drafts.values(), key=lambda d: (KIND_ORDER.index(d.kind), d.subject))
        return tuple(
            ContainmentStep(
                id="CT-" + hashlib.sha256(f"{d.kind}\n{d.subject}".encode()).hexdigest()[:10],
                kind=d.kind,
                title=d.title,
                subject=d.subject,
                why=d.why,
                commands=d.commands,
                event_ids=tuple(d.event_ids),
            )
            for d in ordered
        )


def containment_steps(
    context: HuntContext, incident: Incident, rows: Sequence[EventRow], radius: BlastRadius | None
) -> tuple[ContainmentStep, ...]:
    steps = _Steps()
    if incident.severity < CONTAIN_FROM:
        return ()
    nodes = _Nodes(context)
    changes = [row for row in rows if not row.error_code and row.name in _CHANGE_RULES]
    created_ids = {hop.event_ids[0] for hop in (radius.created if radius else []) if hop.event_ids}
    cited = {row.event_id for row in changes}
    extra = [row for row in _rows(context, sorted(created_ids - cited)) if not row.error_code]
    created_keys: dict[str, EventRow] = {}
    for row in [*changes, *extra]:
        effect = context.inspect(row).effect
        if row.name == "CreateAccessKey" and effect.target.kind == "AccessKey":
            created_keys[effect.target.key] = row
        _CHANGE_RULES[row.name](steps, context, row, effect)
    for key in sorted(incident.keys | set(created_keys)):
        _contain_key(steps, context, nodes, key, rows, created_keys.get(key))
    _block_addresses(steps, context, incident, rows)
    return steps.done()


def _rows(context: HuntContext, event_ids: Sequence[str]) -> list[EventRow]:
    found: list[EventRow] = []
    for start in range(0, len(event_ids), 500):
        part = event_ids[start : start + 500]
        found.extend(context.case.events(f"event_id IN ({','.join('?' * len(part))})", part))
    return found


class _Nodes:
    """Node look-ups by key (kind, props, last seen) without loading the whole graph."""

    def __init__(self, context: HuntContext) -> None:
        self.context = context
        self.cache: dict[str, tuple[str, dict[str, Any], str | None] | None] = {}

    def get(self, key: str) -> tuple[str, dict[str, Any], str | None] | None:
        if key not in self.cache:
            row = self.context.case.db.execute(
                "SELECT kind, props, last_seen FROM nodes WHERE key=?", (key,)
            ).fetchone()
            self.cache[key] = None if row is None else (row[0], orjson.loads(row[1]), row[2])
        return self.cache[key]


def _q(value: str) -> str:
    return shlex.quote(value)


def _name(arn_text: str) -> str:
    parsed = arns.parse_arn(arn_text)
    return parsed.resource_name if parsed else arn_text


def _revoke_policy(before: str) -> str:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": before}}}]}  # fmt: skip
    return orjson.dumps(document).decode()


def _key_uses(rows: Sequence[EventRow], key: str) -> list[str]:
    return [row.event_id for row in rows if row.access_key == key][:20]


def _contain_key(
    steps: _Steps, context: HuntContext, nodes: _Nodes, key: str, rows: Sequence[EventRow], created: EventRow | None
) -> None:
    node = nodes.get(key)
    props = node[1] if node else {}
    last_seen = (node[2] if node else None) or context.span[1]
    owner = props.get("owner") or ""
    owner_node = nodes.get(owner) if owner else None
    owner_kind = owner_node[0] if owner_node else ""
    evidence = _key_uses(rows, key) or ([created.event_id] if created else [])
    if not arns.is_temporary_key(key):
        if owner_kind == "Root" or owner.endswith(":root"):
            steps.add(
                "delete-root-access-key", key, f"Delete the root access key {key} of account {_account(owner)}",
                "Root access keys cannot be limited by any policy; only the root user can delete them (sign in as "
                "root: Security credentials → Access keys).", (), evidence,
            )  # fmt: skip
            return
        user = _name(owner) if owner else "USER"
        if created is not None:
            steps.add(
                "delete-access-key", key, f"Delete access key {key} of user {user} (created at {created.time})",
                f"{created.actor} created it during the incident (event {created.event_id}).",
                (f"aws iam delete-access-key --user-name {_q(user)} --access-key-id {_q(key)}",), evidence,
            )  # fmt: skip
        else:
            steps.add(
                "deactivate-access-key", key, f"Deactivate access key {key} of user {user}",
                f"The key was used by the attacker (its last use in the case: {last_seen}); deactivating keeps it "
                "for the investigation, delete it once the owner has a new one.",
                (f"aws iam update-access-key --user-name {_q(user)} --access-key-id {_q(key)} --status Inactive",),
                evidence,
            )  # fmt: skip
        return
    outside = any(context.is_outside_address(row.source_ip) for row in rows if row.access_key == key and row.source_ip)
    _contain_session_key(steps, props, owner, owner_kind, owner_node, key, last_seen, evidence, outside)


def _contain_session_key(
    steps: _Steps,
    props: dict[str, Any],
    owner: str,
    owner_kind: str,
    owner_node: tuple[str, dict[str, Any], str | None] | None,
    key: str,
    last_seen: str,
    evidence: list[str],
    outside: bool,
) -> None:
    """A temporary key cannot be deactivated: deny what it was issued before, on the role or user behind it."""
    owner_props = owner_node[1] if owner_node else {}
    if owner_kind == "Session":
        role = owner_props.get("role") or props.get("role") or ""
        if not role:
            return
        name = _name(role)
        permission_set = _permission_set(name)
        if permission_set is not None:
            steps.add(
                "revoke-role-sessions", role,
                f"Revoke the sessions of permission set {permission_set} issued before {last_seen}",
                f"Temporary key {key} of {owner} was used by the attacker until {last_seen}. {name} is IAM Identity "
                "Center's role and cannot be edited in IAM: add a deny on aws:TokenIssueTime before that time to "
                f"the inline policy of permission set {permission_set} in IAM Identity Center (it is provisioned to "
                "every account using it), or remove the user's assignment. Use the current time when you apply it "
                "to also cut sessions minted since.", (), evidence, rank=last_seen,
            )  # fmt: skip
        else:
            steps.add(
                "revoke-role-sessions", role, f"Revoke the sessions of role {name} issued before {last_seen}",
                f"Temporary key {key} of {owner} was used by the attacker until {last_seen}. An inline deny on "
                "aws:TokenIssueTime (what the console's 'Revoke active sessions' writes) cuts every session issued "
                "before that time; use the current time when you apply it to also cut sessions minted since.",
                (f"aws iam put-role-policy --role-name {_q(name)} --policy-name AWSRevokeOlderSessions "
                 f"--policy-document {_q(_revoke_policy(last_seen))}",), evidence, rank=last_seen,
            )  # fmt: skip
        if permission_set is not None:
            person = props.get("session_name") or owner_props.get("session_name") or owner.rsplit("/", 1)[-1]
            steps.add(
                "suspend-identity-center-user", person, f"Suspend Identity Center user {person} and end their sessions",
                f"The session came from {person}'s Identity Center sign-in; the role-session deny covers one "
                "account only. Disable the user (or reset their password and MFA) in IAM Identity Center and "
                "revoke their active sessions there.", (), evidence,
            )  # fmt: skip
        instance = owner_props.get("instance_id")
        if instance and outside:
            steps.add(
                "isolate-instance", instance, f"Isolate and examine instance {instance}",
                f"Its instance-profile credentials ({key}) were used by someone else: find how they were taken "
                "(SSRF to the metadata service, a shell on the host) before the new credentials leak too; require "
                "IMDSv2.",
                (f"aws ec2 modify-instance-metadata-options --instance-id {_q(instance)} --http-tokens required",),
                evidence,
            )  # fmt: skip
        return
    if owner_kind == "FederatedUser":
        issuer = owner_props.get("issuer") or props.get("minted_by") or ""
        if issuer:
            _revoke_user_sessions(steps, issuer, key, owner, last_seen, evidence, federated=True)
        return
    if owner_kind == "Root" or owner.endswith(":root"):
        steps.add(
            "secure-root-user", owner, f"Secure the root user of account {_account(owner)}",
            f"The root user's session {key} was used by the attacker: reset the root password, enable MFA, check "
            "the root email address and delete any root access key.", (), evidence,
        )  # fmt: skip
        return
    if owner_kind == "User":
        _revoke_user_sessions(steps, owner, key, owner, last_seen, evidence, federated=False)


def _revoke_user_sessions(
    steps: _Steps, user: str, key: str, actor: str, before: str, evidence: list[str], *, federated: bool
) -> None:
    name = _name(user)
    how = (
        f"Federation token {key} ({actor}) was issued by {user}; a federated session can only do what its issuer "
        "may, so a deny on the issuer cuts it."
        if federated
        else f"Session key {key} of {user} was used by the attacker until {before}."
    )
    steps.add(
        "revoke-user-sessions", user, f"Revoke the sessions of user {name} issued before {before}",
        how + " Use the current time when you apply it to also cut sessions minted since.",
        (f"aws iam put-user-policy --user-name {_q(name)} --policy-name RevokeOlderSessions "
         f"--policy-document {_q(_revoke_policy(before))}",), evidence, rank=before,
    )  # fmt: skip


_SSO_ROLE = re.compile(r"^AWSReservedSSO_(?P<set>.+)_[0-9a-f]{16}$")


def _permission_set(role_name: str) -> str | None:
    """The permission set behind an IAM Identity Center role (AWSReservedSSO_<set>_<16 hex>), else None."""
    match = _SSO_ROLE.match(role_name)
    return match.group("set") if match else None


def _account(arn_text: str) -> str:
    parsed = arns.parse_arn(arn_text)
    return parsed.account if parsed else "?"


# -- what the attacker changed -----------------------------------------------------------------------------


def _facts(effect: ActionEffect) -> dict[str, Any]:
    return dict(effect.facts)


def _create_user(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    user = effect.target.key
    name = _name(user)
    steps.add(
        "delete-user", user, f"Delete IAM user {name} (created by the attacker at {row.time})",
        f"{row.actor} created it (event {row.event_id}). Deleting a user needs its keys, login profile and "
        "policies removed first (the steps above); keep a copy of what it had for the investigation.",
        (f"aws iam delete-user --user-name {_q(name)}",), [row.event_id],
    )  # fmt: skip


def _login_profile(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    user = effect.target.key
    name = _name(user)
    what = "set a console password for" if row.name == "CreateLoginProfile" else "changed the console password of"
    steps.add(
        "delete-login-profile", user, f"Delete the login profile (console password) of user {name}",
        f"{row.actor} {what} {name} at {row.time} (event {row.event_id}); give the owner a new one afterwards if "
        "they need console access.", (f"aws iam delete-login-profile --user-name {_q(name)}",), [row.event_id],
    )  # fmt: skip


_DETACH = {"AttachUserPolicy": "user", "AttachRolePolicy": "role", "AttachGroupPolicy": "group"}


def _attach_policy(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    policy = _facts(effect).get("policy_arn")
    holder = effect.target.key
    if not isinstance(policy, str):
        return
    kind = _DETACH[row.name]
    name = _name(holder)
    steps.add(
        "detach-policy", f"{policy} from {holder}", f"Detach policy {_name(policy)} from {kind} {name}",
        f"{row.actor} attached {policy} to {holder} at {row.time} (event {row.event_id}).",
        (f"aws iam detach-{kind}-policy --{kind}-name {_q(name)} --policy-arn {_q(policy)}",), [row.event_id],
    )  # fmt: skip


_INLINE = {"PutUserPolicy": "user", "PutRolePolicy": "role", "PutGroupPolicy": "group"}


def _inline_policy(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    policy = _facts(effect).get("policy_name")
    holder = effect.target.key
    if not isinstance(policy, str):
        return
    kind = _INLINE[row.name]
    name = _name(holder)
    steps.add(
        "delete-inline-policy", f"{policy} on {holder}", f"Delete inline policy {policy} of {kind} {name}",
        f"{row.actor} wrote it at {row.time} (event {row.event_id}).",
        (f"aws iam delete-{kind}-policy --{kind}-name {_q(name)} --policy-name {_q(policy)}",), [row.event_id],
    )  # fmt: skip


def _create_role(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    role = effect.target.key
    name = _name(role)
    steps.add(
        "delete-role", role, f"Delete role {name} (created by the attacker at {row.time})",
        f"{row.actor} created it (event {row.event_id}); detach or delete its policies first.",
        (f"aws iam delete-role --role-name {_q(name)}",), [row.event_id],
    )  # fmt: skip


def _trust_policy(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    facts = _facts(effect)
    role = effect.target.key
    own = context.own_accounts
    trusted = [p for p in facts.get("trusted_principals") or () if isinstance(p, str)]
    # Principals of accounts outside these logs (service principals such as ec2.amazonaws.com are AWS's own).
    outside = [p for p in trusted if p == "*" or (arns.parse_arn(p) is not None and _account(p) not in own)]
    outside += [p for p in trusted if arns.is_account_id(p) and p not in own]
    if not outside and facts.get("wildcard_principal"):
        outside = ["*"]
    if not outside:
        return
    others = [p for p in trusted if p not in outside]
    keep = f" The policy also trusts {', '.join(others)} (accounts in these logs): check those too." if others else ""
    steps.add(
        "remove-trust-principal", role,
        f"Remove {', '.join(outside)} from the trust policy of role {_name(role)}",
        f"{row.actor} rewrote the trust policy at {row.time} (event {row.event_id}) to trust "
        f"{', '.join(outside)}, outside the accounts in these logs.{keep} Restore the previous document "
        "(iam get-role shows the current one) with update-assume-role-policy, then revoke the role's sessions.",
        (f"aws iam get-role --role-name {_q(_name(role))} --query Role.AssumeRolePolicyDocument",
         f"aws iam update-assume-role-policy --role-name {_q(_name(role))} --policy-document file://trust.json"),
        [row.event_id],
    )  # fmt: skip


def _trail(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    trail = effect.target.key
    name = _name(trail)
    region = _region(trail, row)
    if row.name == "StopLogging":
        steps.add(
            "restore-trail-logging", trail, f"Restore logging on trail {name}",
            f"{row.actor} stopped it at {row.time} (event {row.event_id}).",
            (f"aws cloudtrail start-logging --name {_q(trail)} --region {_q(region)}",), [row.event_id],
        )  # fmt: skip
    elif row.name == "DeleteTrail":
        steps.add(
            "recreate-trail", trail, f"Re-create trail {name}",
            f"{row.actor} deleted it at {row.time} (event {row.event_id}); re-create it with its former bucket, "
            "organisation and multi-Region settings, then start logging.",
            (f"aws cloudtrail create-trail --name {_q(name)} --s3-bucket-name BUCKET --is-multi-region-trail "
             f"--region {_q(region)}",
             f"aws cloudtrail start-logging --name {_q(name)} --region {_q(region)}"), [row.event_id],
        )  # fmt: skip
    elif row.name in ("PutEventSelectors", "UpdateTrail"):
        steps.add(
            "restore-event-selectors", trail, f"Restore the event selectors and settings of trail {name}",
            f"{row.actor} changed what it records at {row.time} (event {row.event_id}); put back the data and "
            "management events it recorded before.",
            (f"aws cloudtrail get-event-selectors --trail-name {_q(trail)} --region {_q(region)}",), [row.event_id],
        )  # fmt: skip


def _region(arn_text: str, row: EventRow) -> str:
    parsed = arns.parse_arn(arn_text)
    return (parsed.region if parsed and parsed.region else None) or row.region or "us-east-1"


def _guardduty(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    detector = effect.target.key
    region = _region(detector, row)
    if row.name == "UpdateDetector" and _facts(effect).get("enabled") is not False:
        return
    detector_id = str(_facts(effect).get("detector_id") or _name(detector))
    command = (
        f"aws guardduty create-detector --enable --region {_q(region)}"
        if row.name == "DeleteDetector"
        else f"aws guardduty update-detector --detector-id {_q(detector_id)} --enable --region {_q(region)}"
    )
    steps.add(
        "restore-guardduty", detector, f"Re-enable GuardDuty in {region} (detector {detector_id})",
        f"{row.actor} called {row.name} at {row.time} (event {row.event_id}); findings in between were lost.",
        (command,), [row.event_id],
    )  # fmt: skip


def _ingress(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    facts = _facts(effect)
    group = effect.target.key
    group_id = _name(group)
    cidrs = [c for c in facts.get("cidrs") or () if isinstance(c, str)]
    ports = [str(p) for p in facts.get("ports") or ()]
    protocols = [str(p) for p in facts.get("protocols") or ()] or ["tcp"]
    if not cidrs:
        return
    subject = f"{group} {','.join(cidrs)} {','.join(ports)}"
    commands = tuple(
        f"aws ec2 revoke-security-group-ingress --group-id {_q(group_id)} --protocol {_q(protocols[0])} "
        f"--port {_q(port)} --cidr {_q(cidr)} --region {_q(_region(group, row))}"
        for cidr in cidrs
        for port in (ports or ["-1"])
    )
    steps.add(
        "revoke-security-group-ingress", subject,
        f"Revoke ingress {', '.join(cidrs)} port(s) {', '.join(ports) or 'all'} on security group {group_id}",
        f"{row.actor} opened it at {row.time} (event {row.event_id}).", commands, [row.event_id],
    )  # fmt: skip


def _snapshot(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    facts = _facts(effect)
    snapshot = effect.target.key
    shared = [a for a in facts.get("shared_with") or () if isinstance(a, str)]
    outside = [a for a in shared if a not in context.own_accounts]
    if not outside and not facts.get("public"):
        return
    snapshot_id = _name(snapshot)
    accounts = outside or ["all"]
    if row.name == "ModifyDBSnapshotAttribute":
        commands = tuple(
            f"aws rds modify-db-snapshot-attribute --db-snapshot-identifier {_q(snapshot_id)} --attribute-name "
            f"restore --values-to-remove {_q(account)} --region {_q(_region(snapshot, row))}"
            for account in accounts
        )
    else:
        commands = tuple(
            f"aws ec2 modify-snapshot-attribute --snapshot-id {_q(snapshot_id)} --attribute createVolumePermission "
            f"--operation-type remove "
            + ("--group-names all" if account == "all" else f"--user-ids {_q(account)}")
            + f" --region {_q(_region(snapshot, row))}"
            for account in accounts
        )
    steps.add(
        "unshare-snapshot", snapshot, f"Stop sharing snapshot {snapshot_id} with {', '.join(accounts)}",
        f"{row.actor} shared it at {row.time} (event {row.event_id}); the other account may already have copied "
        "it.", commands, [row.event_id],
    )  # fmt: skip


def _bucket_policy(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    facts = _facts(effect)
    if not (facts.get("public") or facts.get("external")):
        return
    bucket = effect.target.key
    name = _name(bucket)
    steps.add(
        "restore-bucket-policy", bucket, f"Remove the public or outside grant from the policy of bucket {name}",
        f"{row.actor} called {row.name} at {row.time} (event {row.event_id}) granting access "
        f"{'to everyone' if facts.get('public') else 'outside the organisation'}; restore the previous policy "
        "and turn Block Public Access on.",
        (f"aws s3api get-bucket-policy --bucket {_q(name)}",
         f"aws s3api put-public-access-block --bucket {_q(name)} --public-access-block-configuration "
         "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"),
        [row.event_id],
    )  # fmt: skip


def _replication(steps: _Steps, context: HuntContext, row: EventRow, effect: ActionEffect) -> None:
    facts = _facts(effect)
    bucket = effect.target.key
    name = _name(bucket)
    accounts = [a for a in facts.get("destination_accounts") or () if isinstance(a, str)]
    outside = [a for a in accounts if a not in context.own_accounts]
    destination = ", ".join(str(b) for b in facts.get("destination_buckets") or ()) or "another bucket"
    where = f" in account {', '.join(outside)}" if outside else ""
    steps.add(
        "delete-bucket-replication", bucket, f"Delete the replication of bucket {name} to {destination}{where}",
        f"{row.actor} configured it at {row.time} (event {row.event_id}); objects written since then were copied "
        "out.", (f"aws s3api delete-bucket-replication --bucket {_q(name)}",), [row.event_id],
    )  # fmt: skip


_CHANGE_RULES: dict[str, Callable[[_Steps, HuntContext, EventRow, ActionEffect], None]] = {
    "CreateUser": _create_user,
    "CreateLoginProfile": _login_profile,
    "UpdateLoginProfile": _login_profile,
    **dict.fromkeys(_DETACH, _attach_policy),
    **dict.fromkeys(_INLINE, _inline_policy),
    "CreateRole": _create_role,
    "UpdateAssumeRolePolicy": _trust_policy,
    "StopLogging": _trail,
    "DeleteTrail": _trail,
    "PutEventSelectors": _trail,
    "UpdateTrail": _trail,
    "DeleteDetector": _guardduty,
    "UpdateDetector": _guardduty,
    "AuthorizeSecurityGroupIngress": _ingress,
    "ModifySnapshotAttribute": _snapshot,
    "ModifyDBSnapshotAttribute": _snapshot,
    "PutBucketPolicy": _bucket_policy,
    "PutBucketAcl": _bucket_policy,
    "PutBucketReplication": _replication,
    "CreateAccessKey": lambda *args: None,  # the key itself is handled with the incident's keys
}


def _block_addresses(steps: _Steps, context: HuntContext, incident: Incident, rows: Sequence[EventRow]) -> None:
    addresses = sorted(ip for ip in incident.ips if context.is_outside_address(ip))
    if not addresses:
        return
    evidence = [row.event_id for row in rows if row.source_ip in addresses][:20]
    steps.add(
        "block-addresses", " ".join(addresses), f"Block and look for {', '.join(addresses)}",
        "The attacker's addresses outside AWS: deny them (an SCP or permissions boundary on aws:SourceIp, your "
        "network edge) and search other logs (VPC flow logs, proxies, other clouds) for them.", (), evidence,
    )  # fmt: skip
