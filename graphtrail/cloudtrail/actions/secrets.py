"""Stored secrets: Secrets Manager, SSM Parameter Store and KMS. Values are never logged; names and keys are."""

from __future__ import annotations

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, account_in, as_bool, items, scalar, strings
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, FactValue, NodeRef, rules
from graphtrail.cloudtrail.actions.policy import summarize_policy

MAX_NAMES_PER_EVENT = 10


def _first_and_rest(nodes: list[NodeRef]) -> tuple[NodeRef | None, list[NodeRef]]:
    return (nodes[0], nodes[1:]) if nodes else (None, [])


def _filters(ctx: Context) -> tuple[str, ...]:
    """``key=value,value`` per filter, so a tag-based bulk read (``tag-key=StratusRedTeam``) stays visible."""
    found = []
    for item in items(ctx.request.get("filters")):
        key = item.text("key") or item.text("Key")
        values = strings(item.get("values") or item.get("Values"))
        if key:
            found.append(f"{key}={','.join(values)}"[:200])
    return tuple(found)


# --- Secrets Manager ---------------------------------------------------------------------------------------


def _secret(ctx: Context, secret_id: str | None) -> NodeRef | None:
    if not secret_id:
        return None
    if secret_id.startswith("arn:"):
        return ctx.arn_node(secret_id)
    if ctx.region and ctx.account:
        key = arns.secret_arn(ctx.partition, ctx.region, ctx.account, secret_id)
    else:
        key = f"secretsmanager:secret/{secret_id}"
    return ctx.resource(key, "secretsmanager:secret", name=secret_id)


def secret_subject(ctx: Context) -> ActionEffect:
    secret_id = ctx.param("secretId") or ctx.response.text("arn") or ctx.param("name")
    return ctx.effect(_secret(ctx, secret_id))


def batch_get_secret_value(ctx: Context) -> ActionEffect:
    """Named secrets, or a filter (often a tag) that selects them in bulk."""
    ids = strings(ctx.request.get("secretIdList"))
    target, rest = _first_and_rest([node for secret in ids if (node := _secret(ctx, secret)) is not None])
    facts = {"secret_ids": tuple(ids[:MAX_NAMES_PER_EVENT]), "filters": _filters(ctx)}
    return ctx.effect(target or ctx.service("secretsmanager.amazonaws.com"), facts, nodes=rest)


def list_secrets(ctx: Context) -> ActionEffect:
    return ctx.effect(ctx.service("secretsmanager.amazonaws.com"), {"filters": _filters(ctx)})


def secret_resource_policy(ctx: Context) -> ActionEffect:
    """A resource policy on a secret: who outside the account may now read it."""
    summary = summarize_policy(ctx.request.get("resourcePolicy"))
    shared = tuple(account for account in summary.accounts if account != ctx.account)
    facts = {"public": summary.public, "shared_with": shared, "external": bool(shared) or summary.public}
    return ctx.effect(
        _secret(ctx, ctx.param("secretId")), facts, nodes=[ctx.account_node(account) for account in shared]
    )


# --- SSM Parameter Store -------------------------------------------------------------------------------------


def _parameter(ctx: Context, name: str | None) -> NodeRef | None:
    if not name:
        return None
    if name.startswith("arn:"):
        return ctx.arn_node(name)
    for ref in ctx.event.resources:  # the logged ARN is authoritative (it has the right partition/account)
        if ref.arn.endswith("parameter/" + name.lstrip("/")):
            return ctx.arn_node(ref.arn)
    if ctx.region and ctx.account:
        key = arns.ssm_parameter_arn(ctx.partition, ctx.region, ctx.account, name)
    else:
        key = f"ssm:parameter/{name.lstrip('/')}"
    return ctx.resource(key, "ssm:parameter", name=name)


def get_parameters(ctx: Context) -> ActionEffect:
    """GetParameter(s)/ByPath: `with_decryption` is what makes a SecureString read a secret read."""
    names = strings(ctx.request.get("name")) + strings(ctx.request.get("names"))
    path = ctx.param("path")
    if path:
        names.append(path)
    target, rest = _first_and_rest([node for name in names if (node := _parameter(ctx, name)) is not None])
    facts: dict[str, FactValue | None] = {
        "parameter_names": tuple(names[:MAX_NAMES_PER_EVENT]),
        "with_decryption": as_bool(ctx.request.get("withDecryption")) is True,
        "path": path,
    }
    return ctx.effect(target, facts, nodes=rest)


def parameter_subject(ctx: Context) -> ActionEffect:
    return ctx.effect(_parameter(ctx, ctx.param("name")))


# --- KMS ---------------------------------------------------------------------------------------------------


def _kms_key(ctx: Context) -> NodeRef | None:
    for ref in ctx.event.resources:
        if ":kms:" in ref.arn:
            return ctx.arn_node(ref.arn)
    key_id = ctx.param("keyId")
    if not key_id:
        return None
    if key_id.startswith("arn:"):
        return ctx.arn_node(key_id)
    if ctx.region and ctx.account:
        return ctx.arn_node(arns.kms_key_arn(ctx.partition, ctx.region, ctx.account, key_id))
    return ctx.resource(f"kms:{key_id}", "kms:alias" if key_id.startswith("alias/") else "kms:key", name=key_id)


def kms_crypto(ctx: Context) -> ActionEffect:
    """Decrypt/Encrypt/GenerateDataKey: the key, and what it protected (ARNs in the encryption context)."""
    key = _kms_key(ctx)
    context_arns = [
        text
        for value in ctx.request.sub("encryptionContext").values()
        if (text := scalar(value)) and text.startswith("arn:")
    ]
    key_account = account_in(key.key) if key else None
    facts = {
        "context_arns": tuple(context_arns[:5]),
        "cross_account": bool(
            key_account and ctx.event.principal.account and key_account != ctx.event.principal.account
        ),
    }
    return ctx.effect(key, facts)


def kms_key_change(ctx: Context) -> ActionEffect:
    """Key policy changes, disabling and deletion: lock-out (ransom) or opening a key to outsiders."""
    facts: dict[str, FactValue | None] = {}
    if ctx.name == "PutKeyPolicy":
        summary = summarize_policy(ctx.request.get("policy"))
        shared = tuple(account for account in summary.accounts if account != ctx.account)
        facts = {"public": summary.public, "shared_with": shared, "external": bool(shared) or summary.public}
    return ctx.effect(_kms_key(ctx), facts)


RULES: tuple[ActionRule, ...] = (
    *rules(
        "secretsmanager.amazonaws.com",
        "secrets",
        {
            "GetSecretValue": secret_subject,
            "BatchGetSecretValue": batch_get_secret_value,
            "ListSecrets": list_secrets,
            "DescribeSecret": secret_subject,
            "CreateSecret": secret_subject,
            "PutSecretValue": secret_subject,
            "UpdateSecret": secret_subject,
            "DeleteSecret": secret_subject,
            "PutResourcePolicy": secret_resource_policy,
        },
    ),
    *rules(
        "ssm.amazonaws.com",
        "secrets",
        {
            "GetParameter": get_parameters,
            "GetParameters": get_parameters,
            "GetParametersByPath": get_parameters,
            "PutParameter": parameter_subject,
            "DeleteParameter": parameter_subject,
        },
    ),
    *rules(
        "kms.amazonaws.com",
        "secrets",
        {
            "Decrypt": kms_crypto,
            "Encrypt": kms_crypto,
            "GenerateDataKey": kms_crypto,
            "GenerateDataKeyWithoutPlaintext": kms_crypto,
            "ReEncrypt": kms_crypto,
            "PutKeyPolicy": kms_key_change,
            "DisableKey": kms_key_change,
            "ScheduleKeyDeletion": kms_key_change,
        },
    ),
)
