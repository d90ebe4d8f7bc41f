"""RDS (``rds.amazonaws.com``): database snapshots copied, shared and exported; instances opened up."""

from __future__ import annotations

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, as_bool, strings
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, NodeRef, rules


def _rds(ctx: Context, resource_type: str, identifier: str | None) -> NodeRef | None:
    """An RDS resource by identifier or ARN; node types are ``rds:snapshot``, ``rds:cluster-snapshot``, ``rds:db``."""
    if not identifier:
        return None
    if identifier.startswith("arn:"):
        return ctx.arn_node(identifier)
    if ctx.region and ctx.account:
        key = arns.rds_arn(ctx.partition, ctx.region, ctx.account, resource_type, identifier)
    else:
        key = f"rds:{resource_type}/{identifier}"
    return ctx.resource(key, f"rds:{resource_type}", name=identifier, account=ctx.account)


def _snapshot(ctx: Context) -> NodeRef | None:
    cluster = ctx.param("dBClusterSnapshotIdentifier")
    if cluster:
        return _rds(ctx, "cluster-snapshot", cluster)
    return _rds(ctx, "snapshot", ctx.param("dBSnapshotIdentifier"))


def modify_snapshot_attribute(ctx: Context) -> ActionEffect:
    """The ``restore`` attribute lists the accounts that may restore the snapshot; ``all`` makes it public."""
    snapshot = _snapshot(ctx)
    restore = (ctx.param("attributeName") or "restore").lower() == "restore"
    added = strings(ctx.request.get("valuesToAdd")) if restore else []
    removed = strings(ctx.request.get("valuesToRemove")) if restore else []
    public = any(value.lower() == "all" for value in added)
    accounts = [value for value in added if arns.is_account_id(value)]
    owner = snapshot.account if snapshot else ctx.account
    outside = [account for account in accounts if account != owner]
    facts = {
        "shared_with": tuple(accounts),
        "unshared_from": tuple(value for value in removed if arns.is_account_id(value)),
        "public": public,
        "external": bool(outside) or public,
    }
    return ctx.effect(snapshot, facts, nodes=[ctx.account_node(account) for account in outside])


def create_snapshot(ctx: Context) -> ActionEffect:
    """Create/Copy DB (cluster) snapshot: the new snapshot; a copy names where it came from."""
    arn = ctx.response.text("dBSnapshotArn") or ctx.response.text("dBClusterSnapshotArn")
    cluster = "Cluster" in ctx.name
    target_id = ctx.param("targetDBSnapshotIdentifier", "targetDBClusterSnapshotIdentifier")
    node = ctx.arn_node(arn) or (
        _rds(ctx, "cluster-snapshot", target_id) if cluster and target_id else _rds(ctx, "snapshot", target_id)
    )
    node = node or _snapshot(ctx)
    facts = {
        "db_instance": ctx.param("dBInstanceIdentifier"),
        "db_cluster": ctx.param("dBClusterIdentifier"),
        "source_snapshot": ctx.param("sourceDBSnapshotIdentifier", "sourceDBClusterSnapshotIdentifier"),
        "kms_key": ctx.param("kmsKeyId"),
    }
    return ctx.effect(node, facts)


def start_export_task(ctx: Context) -> ActionEffect:
    """Snapshot export to S3: the data leaves the database service for a bucket."""
    source = ctx.arn_node(ctx.param("sourceArn"))
    bucket = ctx.bucket(ctx.param("s3BucketName"), account=None)
    role = ctx.role(ctx.param("iamRoleArn"))
    facts = {"s3_bucket": ctx.param("s3BucketName"), "role_passed": ctx.param("iamRoleArn")}
    return ctx.effect(source, facts, nodes=[bucket, role])


def db_instance(ctx: Context) -> ActionEffect:
    """Instance changes: a new master password (T1098.001) or public accessibility."""
    node = _rds(ctx, "db", ctx.param("dBInstanceIdentifier", "targetDBInstanceIdentifier"))
    facts = {
        "master_password_changed": "masterUserPassword" in ctx.request or None,
        "public": as_bool(ctx.request.get("publiclyAccessible")) is True,
        "source_snapshot": ctx.param("dBSnapshotIdentifier"),
    }
    return ctx.effect(node, facts)


def snapshot_subject(ctx: Context) -> ActionEffect:
    return ctx.effect(_snapshot(ctx))


RULES: tuple[ActionRule, ...] = rules(
    "rds.amazonaws.com",
    "rds",
    {
        "ModifyDBSnapshotAttribute": modify_snapshot_attribute,
        "ModifyDBClusterSnapshotAttribute": modify_snapshot_attribute,
        "CreateDBSnapshot": create_snapshot,
        "CopyDBSnapshot": create_snapshot,
        "CreateDBClusterSnapshot": create_snapshot,
        "CopyDBClusterSnapshot": create_snapshot,
        "DeleteDBSnapshot": snapshot_subject,
        "DeleteDBClusterSnapshot": snapshot_subject,
        "StartExportTask": start_export_task,
        "ModifyDBInstance": db_instance,
        "RestoreDBInstanceFromDBSnapshot": db_instance,
        "DeleteDBInstance": db_instance,
    },
)
