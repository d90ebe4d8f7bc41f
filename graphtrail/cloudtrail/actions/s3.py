"""S3 (``s3.amazonaws.com``): bucket configuration (management events) and object access (data events)."""

from __future__ import annotations

from urllib.parse import unquote

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, account_in, as_bool, as_int, first_text, items, scalar
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, FactValue, NodeRef, rules
from graphtrail.cloudtrail.actions.policy import summarize_policy
from graphtrail.cloudtrail.event import Fields

MAX_KEYS_PER_EVENT = 5
_MAX_KEY_LENGTH = 256
_PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_PUBLIC_GROUPS = ("AllUsers", "AuthenticatedUsers")


def _bucket(ctx: Context) -> NodeRef | None:
    """The bucket the call is about: `bucketName`, else the bucket (or an object's bucket) in `resources`."""
    listed = owner = object_bucket = None
    for ref in ctx.event.resources:
        parsed = arns.parse_arn(ref.arn)
        if parsed is None or parsed.service != "s3" or not parsed.resource:
            continue
        name, _, key = parsed.resource.partition("/")
        if not key and listed is None:
            listed, owner = name, ref.account
        elif key and object_bucket is None:
            object_bucket = name
    name = ctx.param("bucketName") or listed or object_bucket
    return ctx.bucket(name, account=owner if name == listed and account_in(owner) else None)


def _keys(ctx: Context, deleted: list[Fields]) -> list[str]:
    found = [scalar(ctx.request.get("key")), *(item.text("Key") for item in deleted)]
    return [key[:_MAX_KEY_LENGTH] for key in found if key]


def _deleted(ctx: Context) -> list[Fields]:
    """The objects a DeleteObjects call names (none for other calls)."""
    return items(ctx.request.sub("delete").get("Object"))


def bucket_subject(ctx: Context) -> ActionEffect:
    return ctx.effect(_bucket(ctx))


def list_buckets(ctx: Context) -> ActionEffect:
    return ctx.effect(ctx.service("s3.amazonaws.com"))


def object_access(ctx: Context) -> ActionEffect:
    """Object reads and writes (data events): bytes moved, how many objects, a few sampled keys."""
    deleted = _deleted(ctx)
    keys = _keys(ctx, deleted)
    facts: dict[str, FactValue | None] = {
        "bytes_out": as_int(ctx.additional.get("bytesTransferredOut")),
        "bytes_in": as_int(ctx.additional.get("bytesTransferredIn")),
        "object_count": len(deleted) if deleted else 1,
        "keys": tuple(keys[:MAX_KEYS_PER_EVENT]),
        "sse_c": bool(ctx.param("x-amz-server-side-encryption-customer-algorithm")) or None,
    }
    kms_key = first_text(ctx.request.get("x-amz-server-side-encryption-aws-kms-key-id"))
    if kms_key:
        facts["kms_key"] = kms_key
        key_account = account_in(kms_key)
        facts["external_kms_key"] = bool(key_account and ctx.account and key_account != ctx.account)
    return ctx.effect(_bucket(ctx), facts)


def copy_object(ctx: Context) -> ActionEffect:
    """CopyObject: the destination bucket, with the bucket the data came from."""
    effect = object_access(ctx)
    source = first_text(ctx.request.get("x-amz-copy-source"))
    source_bucket = unquote(source).lstrip("/").split("/", 1)[0] if source else None
    if not source_bucket:
        return effect
    node = ctx.bucket(source_bucket, account=None)
    facts = {**effect.facts, "source_bucket": source_bucket}
    return ctx.effect(effect.target, facts, nodes=[node])


def list_objects(ctx: Context) -> ActionEffect:
    facts = {"prefix": ctx.param("prefix"), "bytes_out": as_int(ctx.additional.get("bytesTransferredOut"))}
    return ctx.effect(_bucket(ctx), facts)


def put_bucket_policy(ctx: Context) -> ActionEffect:
    """A bucket policy: public when it allows ``*`` without a condition; the other accounts it lets in."""
    summary = summarize_policy(ctx.request.get("bucketPolicy") or ctx.request.get("policy"))
    bucket = _bucket(ctx)
    if not summary.readable:
        return ctx.effect(bucket)
    owner = bucket.account if bucket else ctx.account
    shared = tuple(account for account in summary.accounts if account != owner)
    facts = {
        "public": summary.public,
        "wildcard_principal": summary.wildcard_principal,
        "shared_with": shared,
        "external": bool(shared) or summary.public,
    }
    return ctx.effect(bucket, facts, nodes=[ctx.account_node(account) for account in shared])


def put_bucket_acl(ctx: Context) -> ActionEffect:
    """An ACL: public through a canned ACL, a grant header or a grant to the AllUsers/AuthenticatedUsers groups."""
    canned = first_text(ctx.request.get("x-amz-acl"))
    public = canned in _PUBLIC_CANNED_ACLS
    for name, value in ctx.request.items():
        if str(name).lower().startswith("x-amz-grant") and any(group in str(value) for group in _PUBLIC_GROUPS):
            public = True
    acl = ctx.request.sub("AccessControlPolicy", "AccessControlList")
    for grant in items(acl.get("Grant")):
        uri = grant.sub("Grantee").text("URI") or ""
        if any(group in uri for group in _PUBLIC_GROUPS):
            public = True
    return ctx.effect(_bucket(ctx), {"acl": canned, "public": public, "external": public})


def put_bucket_replication(ctx: Context) -> ActionEffect:
    """Replication: where copies of every new object go; `external` when that is another account."""
    bucket = _bucket(ctx)
    owner = bucket.account if bucket else ctx.account
    config = ctx.request.sub("ReplicationConfiguration")
    destinations: list[NodeRef] = []
    accounts: list[str] = []
    for rule in items(config.get("Rule")):
        destination = rule.sub("Destination")
        account = destination.text("Account")
        node = ctx.bucket(destination.text("Bucket"), account=account if account_in(account) else None)
        if node is not None:
            destinations.append(node)
        if account_in(account) and account not in accounts:
            accounts.append(account)  # type: ignore[arg-type]
    external = tuple(account for account in accounts if account != owner)
    facts = {
        "destination_buckets": tuple(node.name for node in destinations if node.name),
        "destination_accounts": tuple(accounts),
        "shared_with": external,
        "external": bool(external),
        "role_arn": config.text("Role"),
    }
    account_nodes = [ctx.account_node(account) for account in external]
    return ctx.effect(bucket, facts, nodes=[*destinations, *account_nodes])


def put_bucket_logging(ctx: Context) -> ActionEffect:
    """Server access logging: an empty BucketLoggingStatus turns it off."""
    status = ctx.request.sub("BucketLoggingStatus")
    enabled = status.sub("LoggingEnabled")
    return ctx.effect(
        _bucket(ctx),
        {
            "logging_disabled": not enabled,
            "log_target_bucket": enabled.text("TargetBucket"),
            "impairs_detection": not enabled,
        },
    )


def put_bucket_lifecycle(ctx: Context) -> ActionEffect:
    """Lifecycle rules; a short expiration on a log bucket quietly deletes the evidence."""
    config = ctx.request.sub("LifecycleConfiguration")
    days = []
    for rule in items(config.get("Rule")):
        if str(rule.get("Status", "")).lower() == "disabled":
            continue
        value = as_int(rule.sub("Expiration").get("Days"))
        if value is not None and value not in days:
            days.append(value)
    return ctx.effect(_bucket(ctx), {"expiration_days": tuple(days)})


def put_bucket_versioning(ctx: Context) -> ActionEffect:
    config = ctx.request.sub("VersioningConfiguration")
    status = config.text("Status")
    return ctx.effect(
        _bucket(ctx),
        {
            "versioning_status": status,
            "mfa_delete": config.text("MfaDelete"),
            "versioning_suspended": bool(status and status.lower() == "suspended"),
        },
    )


def put_bucket_accelerate(ctx: Context) -> ActionEffect:
    return ctx.effect(_bucket(ctx), {"acceleration_status": ctx.request.sub("AccelerateConfiguration").text("Status")})


def public_access_block(ctx: Context) -> ActionEffect:
    """Deleting the block, or setting any of its four switches to false, opens the door to public policies."""
    config: Fields = ctx.request.sub("PublicAccessBlockConfiguration")
    switches = [
        as_bool(config.get(name))
        for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    ]
    weakened = ctx.name.startswith("Delete") or any(switch is False for switch in switches)
    return ctx.effect(_bucket(ctx), {"public_access_block_weakened": weakened})


_BUCKET_CALLS = (
    "CreateBucket",
    "DeleteBucket",
    "DeleteBucketPolicy",
    "GetBucketPolicy",
    "GetBucketAcl",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "DeleteBucketReplication",
    "DeleteBucketLifecycle",
    "PutBucketTagging",
    "PutBucketCors",
    "PutBucketWebsite",
    "HeadBucket",
    "GetBucketLocation",
)

RULES: tuple[ActionRule, ...] = rules(
    "s3.amazonaws.com",
    "s3",
    {
        "ListBuckets": list_buckets,
        "ListAllMyBuckets": list_buckets,
        **dict.fromkeys(_BUCKET_CALLS, bucket_subject),
        "PutBucketPolicy": put_bucket_policy,
        "PutBucketAcl": put_bucket_acl,
        "PutBucketReplication": put_bucket_replication,
        "PutBucketLogging": put_bucket_logging,
        "PutBucketLifecycle": put_bucket_lifecycle,
        "PutBucketLifecycleConfiguration": put_bucket_lifecycle,
        "PutBucketVersioning": put_bucket_versioning,
        "PutBucketAccelerateConfiguration": put_bucket_accelerate,
        "PutBucketPublicAccessBlock": public_access_block,
        "DeleteBucketPublicAccessBlock": public_access_block,
        "GetObject": object_access,
        "PutObject": object_access,
        "DeleteObject": object_access,
        "DeleteObjects": object_access,
        "CopyObject": copy_object,
        "ListObjects": list_objects,
        "ListObjectsV2": list_objects,
        "ListBucket": list_objects,
        "ListObjectVersions": list_objects,
    },
)
