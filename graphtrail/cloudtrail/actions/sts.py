"""STS (``sts.amazonaws.com``) and console sign-in (``signin.amazonaws.com``): where credentials change hands."""

from __future__ import annotations

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, account_in, first_text, items
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, Control, NodeRef, StructuralEdge, rules
from graphtrail.cloudtrail.actions.policy import summarize_policy
from graphtrail.schema import AUTHENTICATES, MINTED, SESSION_OF


def _issued_key(ctx: Context, owner: str | None) -> NodeRef | None:
    """The temporary key the call handed out, as an AccessKey node (never its secret parts)."""
    issued = ctx.event.issued
    if issued is None or not issued.access_key_id:
        return None
    props: dict[str, object] = {"temporary": True, "minted_by_event": ctx.event.event_id, "minted_by": ctx.actor}
    if owner:
        props["owner"] = owner
    return NodeRef(
        key=issued.access_key_id,
        kind="AccessKey",
        account=account_in(owner) or ctx.account,
        name=issued.access_key_id,
        props=props,
    )


def _lineage(ctx: Context, key: NodeRef | None, owner: str) -> list[StructuralEdge]:
    if key is None:
        return []
    return [StructuralEdge(key.key, AUTHENTICATES, owner), StructuralEdge(ctx.actor, MINTED, key.key)]


def assume_role(ctx: Context) -> ActionEffect:
    """AssumeRole*: the session created (its role in facts); the role itself when no session came back."""
    role_arn = ctx.param("roleArn")
    role = ctx.role(role_arn)
    caller = ctx.event.principal
    role_account = account_in(role_arn)
    facts = {
        "role_arn": role_arn,
        "session_name": ctx.param("roleSessionName"),
        "source_identity": ctx.param("sourceIdentity") or ctx.response.text("sourceIdentity"),
        "cross_account": bool(role_account and caller.account and role_account != caller.account),
        "role_chaining": caller.kind == "Session",
        "mfa_used": bool(ctx.param("serialNumber")),
        "external_id_used": bool(ctx.param("externalId")),
        "provider": ctx.param("principalArn") or ctx.response.text("provider"),
    }
    issued = ctx.event.issued
    session_arn = issued.session_key if issued is not None else None
    names = arns.role_name_of_session(session_arn)
    if session_arn is None or names is None:
        return ctx.effect(role, facts)
    session = NodeRef(
        key=session_arn,
        kind="Session",
        account=account_in(session_arn),
        name=names[1],
        props={
            key: value
            for key, value in {
                "role": role.key if role else None,
                "session_name": names[1],
                "source_identity": issued.source_identity if issued else None,
            }.items()
            if value
        },
    )
    key = _issued_key(ctx, session_arn)
    structural = _lineage(ctx, key, session_arn)
    if role is not None:
        structural.append(StructuralEdge(session_arn, SESSION_OF, role.key))
    return ctx.effect(session, facts, nodes=[role, key], structural=structural)


def get_session_token(ctx: Context) -> ActionEffect:
    """The new ASIA key, which acts as the same user (or root) that asked for it."""
    key = _issued_key(ctx, ctx.actor)
    facts = {"mfa_used": bool(ctx.param("serialNumber") or ctx.param("tokenCode"))}
    if key is None:
        return ctx.effect(None, facts)
    return ctx.effect(key, facts, traversable=True, structural=_lineage(ctx, key, ctx.actor))


def get_federation_token(ctx: Context) -> ActionEffect:
    """The federated user, issued by the caller, with the key that acts as it."""
    name = ctx.param("name")
    arn = ctx.response.text("federatedUser", "arn")
    if arn is None and name and ctx.account:
        arn = arns.federated_user_arn(ctx.partition, ctx.account, name)
    summary = summarize_policy(ctx.request.get("policy"))
    facts = {
        "federated_name": name,
        "policy_arns": tuple(_policy_arns(ctx)),
        "session_policy_allows_all": summary.admin,
    }
    if arn is None:
        return ctx.effect(None, facts)
    user = NodeRef(key=arn, kind="FederatedUser", account=account_in(arn), name=name, props={"issuer": ctx.actor})
    key = _issued_key(ctx, arn)
    structural = [*_lineage(ctx, key, arn), StructuralEdge(arn, SESSION_OF, ctx.actor)]
    return ctx.effect(user, facts, traversable=True, nodes=[key], structural=structural)


def _policy_arns(ctx: Context) -> list[str]:
    found = [item.text("arn") for item in items(ctx.request.get("policyArns"))]
    return [arn for arn in found if arn]


def get_caller_identity(ctx: Context) -> ActionEffect:
    return ctx.effect(ctx.service("sts.amazonaws.com"))


def get_access_key_info(ctx: Context) -> ActionEffect:
    """Which account owns a key: the key asked about."""
    key_id = ctx.param("accessKeyId")
    node = NodeRef(key=key_id, kind="AccessKey", name=key_id) if key_id else None
    return ctx.effect(node, {"access_key_account": ctx.response.text("account")})


# --- sign-in -------------------------------------------------------------------------------------------------


def _yes(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("yes", "true")


def console_login(ctx: Context) -> ActionEffect:
    result = ctx.response.text("ConsoleLogin") or first_text(ctx.response.get("ConsoleLogin"))
    facts = {
        "login_result": result,
        "mfa_used": _yes(ctx.additional.text("MFAUsed")),
        "failed_login": bool(result and result.lower() == "failure") or None,
    }
    return ctx.effect(ctx.service("signin.amazonaws.com"), facts)


def check_mfa(ctx: Context) -> ActionEffect:
    facts = {"mfa_result": ctx.response.text("CheckMfa"), "mfa_type": ctx.additional.text("MfaType")}
    return ctx.effect(ctx.service("signin.amazonaws.com"), facts)


def get_signin_token(ctx: Context) -> ActionEffect:
    """Session credentials turned into a console session (aws_consoler and friends)."""
    return ctx.effect(ctx.service("signin.amazonaws.com"), {"console_from_session": True})


RULES: tuple[ActionRule, ...] = (
    *rules(
        "sts.amazonaws.com",
        "sts",
        {
            "AssumeRole": (assume_role, Control.ALWAYS),
            "AssumeRoleWithSAML": (assume_role, Control.ALWAYS),
            "AssumeRoleWithWebIdentity": (assume_role, Control.ALWAYS),
            "GetSessionToken": (get_session_token, Control.CONDITIONAL),
            "GetFederationToken": (get_federation_token, Control.CONDITIONAL),
            "GetCallerIdentity": get_caller_identity,
            "GetAccessKeyInfo": get_access_key_info,
        },
    ),
    *rules(
        "signin.amazonaws.com",
        "sign-in",
        {
            "ConsoleLogin": console_login,
            "CheckMfa": check_mfa,
            "GetSigninToken": (get_signin_token, Control.ALWAYS),
        },
    ),
)
