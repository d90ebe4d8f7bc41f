"""Exfiltration set-up: the configuration changes that let data leave the organisation in bulk.

A bucket replicated, shared or opened to the public; an EBS snapshot, AMI or RDS snapshot shared with
another account or with everyone; a DataSync task or location; S3 Transfer Acceleration turned on. Each call
is read through the action table's facts (`shared_with`, `public`, `wildcard_principal`, `external`).

"Outside" means outside the organisation: an account is the organisation's own when the configuration lists it
(own_accounts) or, by default, when the case holds its trail (`HuntContext.own_accounts`). Sharing a snapshot
with the organisation's backup account is housekeeping and is reported at info only.

The worst case is the end of a theft: data read in bulk, then a copy sent out by the same principal or by a
session of the same credential lineage (a role chain). That is critical.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphtrail import arn as arns
from graphtrail.cloudtrail.timeparse import shift_time
from graphtrail.findings import Finding, Severity
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import TRANSFER_TO_CLOUD_ACCOUNT, bursts, finding_from, who
from graphtrail.hunts.context import HuntContext, HuntEvent
from graphtrail.hunts.data_access import (
    BulkRead,
    bulk_reads,
    data_baseline,
    grouped_hops,
    identity_of,
    inspected,
    size_text,
    suspicion,
)

SHARING = (
    "PutBucketReplication", "PutBucketPolicy", "PutBucketAcl",
    "ModifySnapshotAttribute", "ModifyImageAttribute", "ModifyDBSnapshotAttribute",
    "ModifyDBClusterSnapshotAttribute",
)  # fmt: skip
DATASYNC_SOURCE = "datasync.amazonaws.com"
DATASYNC_SETUP = (
    "CreateTask", "CreateLocationS3", "CreateLocationNfs", "CreateLocationSmb", "CreateLocationEfs",
    "CreateLocationHdfs", "CreateLocationObjectStorage", "CreateLocationAzureBlob", "CreateLocationFsxLustre",
    "CreateLocationFsxWindows", "CreateLocationFsxOntap", "CreateLocationFsxOpenZfs",
)  # fmt: skip
ACCELERATION = "PutBucketAccelerateConfiguration"
STAGING_SECONDS = 24 * 3600  # bulk reads this long before a share count as its staging
DATASYNC_GAP_SECONDS = 3600
_RESOURCE = {
    "PutBucketReplication": ("bucket", "bucket"),
    "PutBucketPolicy": ("bucket", "bucket"),
    "PutBucketAcl": ("bucket", "bucket"),
    "ModifySnapshotAttribute": ("EBS snapshot", "snapshot"),
    "ModifyImageAttribute": ("AMI", "ami"),
    "ModifyDBSnapshotAttribute": ("RDS snapshot", "rds-snapshot"),
    "ModifyDBClusterSnapshotAttribute": ("RDS cluster snapshot", "rds-snapshot"),
}


_PUBLIC_HOW = {
    "PutBucketPolicy": "with a bucket policy allowing any principal (*)",
    "PutBucketAcl": "with an ACL granting AllUsers/AuthenticatedUsers",
}


def exfiltration_setup(context: HuntContext) -> Iterator[Finding]:
    names = ",".join(repr(name) for name in (*SHARING, ACCELERATION))
    datasync = ",".join(repr(name) for name in DATASYNC_SETUP)
    events = inspected(context, f"name IN ({names}) OR (name IN ({datasync}) AND source = '{DATASYNC_SOURCE}')")
    for event in events:
        if event.row.name in SHARING:
            finding = _sharing_finding(context, event)
        elif event.row.name == ACCELERATION:
            finding = _acceleration_finding(context, event)
        else:
            continue
        if finding is not None:
            yield finding
    setups = [event for event in events if event.row.source == DATASYNC_SOURCE]
    for run in bursts(setups, DATASYNC_GAP_SECONDS, key=lambda event: event.row.actor):
        yield _datasync_finding(context, run)


def _tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(str(item) for item in value)
    return (str(value),) if isinstance(value, str) and value else ()


def _staging(context: HuntContext, event: HuntEvent) -> list[BulkRead]:
    """Bulk reads (not the routine ones) shortly before `event` by the same actor or the same credential
    lineage: a role chain where one session reads and another sends the copy out."""
    since = shift_time(event.time, -STAGING_SECONDS)
    lineage = _lineage_keys(context, [event.row.access_key] if event.row.access_key else [])
    found = []
    for bulk in bulk_reads(context):
        if bulk.severity < Severity.MEDIUM or not since <= bulk.first <= event.time:
            continue
        if bulk.actor == event.row.actor or _lineage_keys(context, bulk.keys) & lineage:
            found.append(bulk)
    return found


def _lineage_keys(context: HuntContext, keys: Sequence[str] | set[str]) -> set[str]:
    """The keys and every key up their lineage (towards the long-term key or sign-in they came from)."""
    found = set(keys)
    for key in keys:
        found |= {hop.issuer_key for hop in context.chain(key) if hop.issuer_key}
    return found


def _outside_accounts(context: HuntContext, accounts: Sequence[str]) -> list[str]:
    own = context.own_accounts
    return [account for account in accounts if account not in own and account.lower() != "all"]


def _sharing_finding(context: HuntContext, event: HuntEvent) -> Finding | None:
    facts = event.facts
    name = event.row.name
    public = bool(facts.get("public"))
    conditioned = bool(facts.get("wildcard_principal")) and not public  # "*" narrowed by a Condition
    shared = [account for account in _tuple(facts.get("shared_with")) if arns.is_account_id(account)]
    outside = _outside_accounts(context, shared)
    unknown = name == "PutBucketReplication" and not shared and _unseen_destinations(context, event)
    if not (public or conditioned or shared or unknown):
        return None  # nothing granted (a removal, a private ACL, a policy for a service)
    if not (public or conditioned or outside or unknown):
        return _internal_share(context, event, shared)
    change, category, title = _change(event, public, outside)
    staging = _staging(context, event) if not event.failed and (public or outside) else []
    if event.failed:
        severity = Severity.MEDIUM if public or outside else Severity.LOW
    elif public or outside:
        severity = Severity.CRITICAL if staging else Severity.HIGH
    elif unknown:
        severity = Severity.MEDIUM  # replication to a bucket the case never saw, in an unnamed account
    else:
        severity = Severity.LOW  # any principal, but only under the policy's conditions
    refused = f" The call was refused ({event.row.error_code}): nothing changed." if event.failed else ""
    narrative = f"{who(event)} at {event.time} {change}.{refused}"
    if facts.get("role_arn"):
        narrative += (
            f" Replication runs as {facts.get('role_arn')}; objects already in the bucket are copied only by an S3 "
            "Batch Operations job (look for CreateJob)."
        )
    reasons = suspicion(context, event.row.actor, [event])
    if reasons:
        narrative += f" Suspicious: {'; '.join(reasons)}."
    evidence = [event]
    for bulk in staging:
        narrative += (
            f" Before it, {bulk.actor} read {len(bulk.reads)} objects ({size_text(bulk.bytes_out)}) from "
            f"{bulk.bucket} between {bulk.first} and {bulk.last}: the data was gathered, then sent out."
        )
        evidence = [*bulk.reads, *evidence]
    confidence = 0.9 if severity >= Severity.HIGH else 0.5
    return finding_from(
        context, "exfiltration-setup", category, title, severity, confidence, [TRANSFER_TO_CLOUD_ACCOUNT],
        evidence, narrative, hops=grouped_hops(evidence),
    )  # fmt: skip


def _change(event: HuntEvent, public: bool, outside: list[str]) -> tuple[str, str, str]:
    """(what the call did, as a sentence's predicate; the finding's category; its title)."""
    name, target, facts = event.row.name, event.target, event.facts
    noun, kind = _RESOURCE[name]
    short = target.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    accounts = ", ".join(outside)
    if name == "PutBucketReplication":
        buckets = ", ".join(_tuple(facts.get("destination_buckets"))) or "an unnamed bucket"
        if outside:
            return (
                f"set replication on {target}: new objects are copied to {buckets} in {accounts}, outside the "
                "organisation",
                "exfiltration:bucket-replication-to-external-account",
                f"Bucket {short} replicated to another account",
            )
        return (
            f"set replication on {target}: new objects are copied to {buckets}, a bucket no event of the case "
            "touches (the call names no account)",
            "exfiltration:bucket-replication-to-unknown-bucket",
            f"Bucket {short} replicated to an unknown bucket",
        )
    title_noun = f"{noun[0].upper()}{noun[1:]} {short}"
    if public:
        how = _PUBLIC_HOW.get(name, "for everyone")
        return f"made the {noun} {target} public {how}", f"exfiltration:{kind}-made-public", f"{title_noun} made public"
    if outside:
        if name == "PutBucketPolicy":
            change = f"granted {accounts} access to the bucket {target} through its bucket policy"
        else:
            change = f"shared the {noun} {target} with {accounts}"
        return (
            f"{change}, outside the organisation",
            f"exfiltration:{kind}-shared-externally",
            f"{title_noun} shared outside the organisation",
        )
    return (
        f"gave any principal (*) access to the bucket {target} through its bucket policy, narrowed by conditions: "
        "check they restrict it to the organisation (aws:PrincipalOrgID, aws:SourceVpc...)",
        "exfiltration:bucket-policy-wildcard-principal",
        f"{title_noun} open to any principal under conditions",
    )


def _unseen_destinations(context: HuntContext, event: HuntEvent) -> bool:
    """Replication naming no account: is any destination bucket unknown to the case (no event targets it)?"""
    for bucket in _tuple(event.facts.get("destination_buckets")):
        arn = bucket if bucket.startswith("arn:") else f"arn:aws:s3:::{bucket}"
        if context.case.db.execute("SELECT 1 FROM events WHERE target = ? LIMIT 1", (arn,)).fetchone() is None:
            return True
    return False


def _internal_share(context: HuntContext, event: HuntEvent, shared: Sequence[str]) -> Finding:
    noun, kind = _RESOURCE[event.row.name]
    refused = f" (refused: {event.row.error_code})" if event.failed else ""
    narrative = (
        f"{who(event)} at {event.time} shared the {noun} {event.target} with {', '.join(shared)}{refused}: "
        "account(s) of the organisation, so this is not exfiltration. Listed for the record."
    )
    return finding_from(
        context, "exfiltration-setup", f"exfiltration:{kind}-shared-within-organisation",
        f"{noun[0].upper()}{noun[1:]} shared within the organisation", Severity.INFO, 0.3,
        [TRANSFER_TO_CLOUD_ACCOUNT], [event], narrative,
    )  # fmt: skip


def _acceleration_finding(context: HuntContext, event: HuntEvent) -> Finding | None:
    status = str(event.facts.get("acceleration_status") or "")
    if status.lower() != "enabled":
        return None
    staging = _staging(context, event) if not event.failed else []
    reasons = suspicion(context, event.row.actor, [event])
    severity = Severity.MEDIUM if (staging or reasons) and not event.failed else Severity.LOW
    narrative = (
        f"{who(event)} turned on S3 Transfer Acceleration for {event.target} at {event.time}"
        + (f" (refused: {event.row.error_code})" if event.failed else "")
        + ": downloads from far away get faster, which large copies out of the bucket use."
    )
    if reasons:
        narrative += f" Suspicious: {'; '.join(reasons)}."
    for bulk in staging:
        narrative += f" Before it, {bulk.actor} read {len(bulk.reads)} objects from {bulk.bucket} ({bulk.first})."
    return finding_from(
        context, "exfiltration-setup", "exfiltration:transfer-acceleration-enabled",
        f"Transfer Acceleration enabled on {event.target.rsplit(':', 1)[-1]}", severity, 0.4,
        [TRANSFER_TO_CLOUD_ACCOUNT], [event], narrative,
    )  # fmt: skip


def _datasync_finding(context: HuntContext, run: list[HuntEvent]) -> Finding:
    """DataSync tasks and locations by one principal within an hour. A location's details are not in the action
    table's facts, so the hunt reports the set-up and rates it by who made it and what the baseline knows."""
    first = run[0]
    succeeded = [e for e in run if not e.failed]
    external = any(e.facts.get("external") for e in succeeded)
    reasons = suspicion(context, first.row.actor, run)
    staging = [bulk for e in succeeded for bulk in _staging(context, e)]
    habitual = _datasync_in_baseline(context, first.row.actor)
    if not succeeded:
        severity = Severity.LOW
    elif external and staging:
        severity = Severity.CRITICAL
    elif external or reasons or staging:
        severity = Severity.HIGH
    elif habitual:
        severity = Severity.LOW
    else:
        severity = Severity.MEDIUM
    steps = "; ".join(
        f"{e.time} {e.row.name} {e.target}" + (f" (refused: {e.row.error_code})" if e.failed else "") for e in run
    )
    narrative = f"{who(first)} set up AWS DataSync: {steps}."
    for event in succeeded:
        if event.facts.get("destination_location"):
            narrative += (
                f" Task {event.facts.get('task_name') or event.target} copies {event.facts.get('source_location')} "
                f"to {event.facts.get('destination_location')}"
                + (" in another account" if event.facts.get("external") else "")
                + "."
            )
    if reasons:
        narrative += f" Suspicious: {'; '.join(reasons)}."
    if habitual:
        narrative += " The same identity worked with DataSync in the baseline."
    for bulk in {id(b): b for b in staging}.values():
        narrative += f" Before it, {bulk.actor} read {len(bulk.reads)} objects from {bulk.bucket} ({bulk.first})."
    return finding_from(
        context, "exfiltration-setup", "exfiltration:datasync-task",
        f"DataSync set up by {first.row.actor.rsplit('/', 1)[-1]}", severity, 0.6 if external else 0.45,
        [TRANSFER_TO_CLOUD_ACCOUNT], run, narrative,
    )  # fmt: skip


def _datasync_in_baseline(context: HuntContext, actor: str) -> bool:
    base = data_baseline(context)
    identity = identity_of(actor)
    where, params = base.before_end(f"source = '{DATASYNC_SOURCE}'")
    actors = {a for (a,) in base.db.execute(f"SELECT DISTINCT actor FROM events WHERE {where}", params)}
    return any(identity_of(a) == identity for a in actors)


HUNTS = [
    HuntSpec(
        name="exfiltration-setup",
        family="exfiltration",
        title="Data shared, replicated or opened outside the organisation",
        description="PutBucketReplication, PutBucketPolicy and PutBucketAcl that send a bucket's data to another "
        "account or make it public; EBS snapshot, AMI and RDS (cluster) snapshot sharing with outside accounts or "
        "everyone; DataSync CreateTask/CreateLocation*; S3 Transfer Acceleration turned on. Accounts of the "
        "organisation (own_accounts, by default every account whose trail is in the case) are not outside: such "
        "shares are info. High when public or to an outside account; critical when the same principal, or a "
        "session of its credential lineage, read the data in bulk in the day before; refused attempts medium.",
        techniques=(TRANSFER_TO_CLOUD_ACCOUNT,),
        run=exfiltration_setup,
    ),
]
