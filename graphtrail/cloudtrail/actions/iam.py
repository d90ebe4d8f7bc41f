"""IAM (``iam.amazonaws.com``) and IAM Roles Anywhere: identities, keys, policies and trust."""

from __future__ import annotations

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, as_bool, strings
from graphtrail.cloudtrail.actions.model import (
    ActionEffect,
    ActionRule,
    Control,
    FactValue,
    NodeRef,
    StructuralEdge,
    rules,
)
from graphtrail.cloudtrail.actions.policy import PolicySummary, is_admin_policy_arn, summarize_policy
from graphtrail.schema import AUTHENTICATES

_MAX_ACTIONS = 10


def _named_user(ctx: Context) -> NodeRef | None:
    """The user a call is about: `userName`, or the caller when it is a user or root (IAM's implicit self)."""
    name = ctx.param("userName")
    if name:
        return ctx.user(name)
    if ctx.event.principal.kind in ("User", "Root"):
        return ctx.caller_node()
    return None


def _for_other(ctx: Context, node: NodeRef | None) -> bool | None:
    return None if node is None else node.key != ctx.actor


def _trust_facts(ctx: Context, summary: PolicySummary) -> dict[str, FactValue | None]:
    if not summary.readable:
        return {}
    external = tuple(account for account in summary.accounts if account != ctx.account)
    return {
        "trusted_principals": summary.principals,
        "external_accounts": external,
        "external": bool(external) or summary.wildcard_principal,
        "wildcard_principal": summary.wildcard_principal,
        "public": summary.public,
    }


def _policy_facts(summary: PolicySummary) -> dict[str, FactValue | None]:
    return {"admin": summary.admin, "actions": summary.actions[:_MAX_ACTIONS]}


# --- users, keys, passwords ----------------------------------------------------------------------------------


def create_user(ctx: Context) -> ActionEffect:
    user = ctx.response.sub("user")
    node = ctx.arn_node(user.text("arn")) or ctx.user(ctx.param("userName"))
    return ctx.effect(node, {"path": ctx.param("path")})


def create_access_key(ctx: Context) -> ActionEffect:
    """The new long-term key, which AUTHENTICATES as its user (the caller when `userName` is absent)."""
    owner = _named_user(ctx) or ctx.user(ctx.response.text("accessKey", "userName"))
    key_id = ctx.response.text("accessKey", "accessKeyId")
    facts = {"for_other_user": _for_other(ctx, owner), "user_name": owner.name if owner else None}
    if not key_id:
        return ctx.effect(owner, facts)
    props: dict[str, object] = {"temporary": False, "minted_by_event": ctx.event.event_id, "minted_by": ctx.actor}
    if owner is not None:
        props["owner"] = owner.key
    key = NodeRef(
        key=key_id, kind="AccessKey", account=owner.account if owner else ctx.account, name=key_id, props=props
    )
    structural = [StructuralEdge(key_id, AUTHENTICATES, owner.key)] if owner is not None else []
    return ctx.effect(key, facts, nodes=[owner], structural=structural)


def access_key(ctx: Context) -> ActionEffect:
    """Update/Delete an existing key: the key node, tied to its user when the event names it (or implies self)."""
    key_id = ctx.param("accessKeyId")
    owner = _named_user(ctx)
    if not key_id:
        return ctx.effect(owner, {"status": ctx.param("status")})
    key = NodeRef(key=key_id, kind="AccessKey", account=owner.account if owner else ctx.account, name=key_id)
    structural = [StructuralEdge(key_id, AUTHENTICATES, owner.key)] if owner is not None else []
    return ctx.effect(
        key,
        {"status": ctx.param("status"), "for_other_user": _for_other(ctx, owner)},
        nodes=[owner],
        structural=structural,
    )


def user_subject(ctx: Context) -> ActionEffect:
    """Calls about one user (login profiles, key listing, MFA, deletion): the user, and whether it is someone else."""
    owner = _named_user(ctx)
    facts: dict[str, FactValue | None] = {"for_other_user": _for_other(ctx, owner)}
    reset = as_bool(ctx.request.get("passwordResetRequired"))
    if reset is not None:
        facts["password_reset_required"] = reset
    return ctx.effect(owner, facts)


def create_virtual_mfa_device(ctx: Context) -> ActionEffect:
    serial = ctx.response.text("virtualMFADevice", "serialNumber")
    name = ctx.param("virtualMFADeviceName")
    if serial is None and name and ctx.account:
        serial = f"arn:{ctx.partition}:iam::{ctx.account}:mfa/{name}"
    node = ctx.resource(serial, "iam:mfa", name=name) if serial else None
    return ctx.effect(node, {"device_name": name})


def mfa_device(ctx: Context) -> ActionEffect:
    owner = _named_user(ctx)
    return ctx.effect(owner, {"for_other_user": _for_other(ctx, owner), "serial_number": ctx.param("serialNumber")})


# --- groups --------------------------------------------------------------------------------------------------


def group_membership(ctx: Context) -> ActionEffect:
    """Add/RemoveUserToGroup: the user whose rights change, with the group beside it."""
    user = ctx.user(ctx.param("userName"))
    facts = {"group": ctx.param("groupName"), "for_other_user": _for_other(ctx, user)}
    return ctx.effect(user, facts, nodes=[ctx.group(ctx.param("groupName"))])


def group_subject(ctx: Context) -> ActionEffect:
    return ctx.effect(ctx.group(ctx.param("groupName")))


# --- policies ------------------------------------------------------------------------------------------------


def _policy_holder(ctx: Context) -> NodeRef | None:
    if ctx.param("userName"):
        return ctx.user(ctx.param("userName"))
    if ctx.param("roleName"):
        return ctx.role(ctx.param("roleName"))
    if ctx.param("groupName"):
        return ctx.group(ctx.param("groupName"))
    return None


def attach_policy(ctx: Context) -> ActionEffect:
    """Attach*Policy: the user/role/group gains the policy; admin when it is an AWS admin policy."""
    policy_arn = ctx.param("policyArn")
    admin = is_admin_policy_arn(policy_arn)
    return ctx.effect(
        _policy_holder(ctx),
        {"policy_arn": policy_arn, "admin": admin},
        traversable=admin,
        nodes=[ctx.policy(policy_arn)],
    )


def detach_policy(ctx: Context) -> ActionEffect:
    policy_arn = ctx.param("policyArn")
    return ctx.effect(_policy_holder(ctx), {"policy_arn": policy_arn}, nodes=[ctx.policy(policy_arn)])


def put_inline_policy(ctx: Context) -> ActionEffect:
    """Put*Policy: an inline document; admin when it allows */iam:* on every resource."""
    summary = summarize_policy(ctx.request.get("policyDocument"))
    facts = {"policy_name": ctx.param("policyName"), **_policy_facts(summary)}
    return ctx.effect(_policy_holder(ctx), facts, traversable=summary.admin)


def delete_inline_policy(ctx: Context) -> ActionEffect:
    return ctx.effect(_policy_holder(ctx), {"policy_name": ctx.param("policyName")})


def _policy_from_request(ctx: Context) -> NodeRef | None:
    policy_arn = ctx.param("policyArn")
    if policy_arn:
        return ctx.policy(policy_arn)
    name = ctx.param("policyName")
    if name and ctx.account:
        return ctx.policy(arns.policy_arn(ctx.partition, ctx.account, name))
    return None


def create_policy(ctx: Context) -> ActionEffect:
    summary = summarize_policy(ctx.request.get("policyDocument"))
    node = ctx.policy(ctx.response.text("policy", "arn")) or _policy_from_request(ctx)
    return ctx.effect(node, {"policy_name": ctx.param("policyName"), **_policy_facts(summary)})


def create_policy_version(ctx: Context) -> ActionEffect:
    """A new version only grants anything once it is the default, so control moves on admin + setAsDefault."""
    summary = summarize_policy(ctx.request.get("policyDocument"))
    default = as_bool(ctx.request.get("setAsDefault")) is True
    facts = {
        "policy_arn": ctx.param("policyArn"),
        "set_as_default": default,
        "version_id": ctx.response.text("policyVersion", "versionId"),
        **_policy_facts(summary),
    }
    return ctx.effect(_policy_from_request(ctx), facts, traversable=summary.admin and default)


def set_default_policy_version(ctx: Context) -> ActionEffect:
    """The document is not in this event; admin is unknown, so the edge is never traversable on its own."""
    return ctx.effect(
        _policy_from_request(ctx), {"policy_arn": ctx.param("policyArn"), "version_id": ctx.param("versionId")}
    )


def policy_subject(ctx: Context) -> ActionEffect:
    return ctx.effect(_policy_from_request(ctx), {"policy_arn": ctx.param("policyArn")})


# --- roles and trust -----------------------------------------------------------------------------------------


def _external_account_nodes(ctx: Context, facts: dict[str, FactValue | None]) -> list[NodeRef]:
    external = facts.get("external_accounts") or ()
    return [ctx.account_node(str(account)) for account in external]  # type: ignore[union-attr]


def create_role(ctx: Context) -> ActionEffect:
    role = ctx.response.sub("role")
    node = ctx.arn_node(role.text("arn")) or ctx.role(ctx.param("roleName"))
    document = ctx.request.get("assumeRolePolicyDocument") or role.get("assumeRolePolicyDocument")
    facts = {"path": ctx.param("path"), **_trust_facts(ctx, summarize_policy(document))}
    return ctx.effect(node, facts, nodes=_external_account_nodes(ctx, facts))


def update_assume_role_policy(ctx: Context) -> ActionEffect:
    """A new trust policy: who may now assume the role, flagging accounts other than the event's and ``*``."""
    facts = _trust_facts(ctx, summarize_policy(ctx.request.get("policyDocument")))
    return ctx.effect(ctx.role(ctx.param("roleName")), facts, nodes=_external_account_nodes(ctx, facts))


def role_subject(ctx: Context) -> ActionEffect:
    return ctx.effect(ctx.role(ctx.param("roleName")))


def create_service_linked_role(ctx: Context) -> ActionEffect:
    service = ctx.param("aWSServiceName", "awsServiceName")
    node = ctx.arn_node(ctx.response.text("role", "arn"))
    return ctx.effect(node or (ctx.service(service) if service else None), {"service_name": service})


def _instance_profile(ctx: Context) -> NodeRef | None:
    arn = ctx.response.text("instanceProfile", "arn")
    if arn:
        return ctx.resource(arn, "iam:instance-profile", name=ctx.param("instanceProfileName"))
    name = ctx.param("instanceProfileName")
    if not name or ctx.account is None:
        return None
    key = arns.instance_profile_arn(ctx.partition, ctx.account, name)
    return ctx.resource(key, "iam:instance-profile", name=name)


def instance_profile(ctx: Context) -> ActionEffect:
    """Instance profiles carry a role onto EC2; the role joined is kept so PassRole-by-profile can be resolved."""
    role = ctx.role(ctx.param("roleName"))
    return ctx.effect(_instance_profile(ctx), {"role_arn": role.key if role else None}, nodes=[role])


# --- federation / Roles Anywhere ------------------------------------------------------------------------------


def saml_provider(ctx: Context) -> ActionEffect:
    arn = ctx.response.text("sAMLProviderArn") or ctx.param("sAMLProviderArn")
    name = ctx.param("name")
    if arn is None and name and ctx.account:
        arn = f"arn:{ctx.partition}:iam::{ctx.account}:saml-provider/{name}"
    return ctx.effect(ctx.resource(arn, "iam:saml-provider", name=name) if arn else None)


def create_trust_anchor(ctx: Context) -> ActionEffect:
    arn = ctx.response.text("trustAnchor", "trustAnchorArn")
    name = ctx.param("name")
    node = ctx.resource(arn, "rolesanywhere:trust-anchor", name=name) if arn else None
    return ctx.effect(node, {"trust_anchor_name": name})


def create_roles_anywhere_profile(ctx: Context) -> ActionEffect:
    """A Roles Anywhere profile lets certificate holders become the listed roles."""
    arn = ctx.response.text("profile", "profileArn")
    name = ctx.param("name")
    role_arns = tuple(strings(ctx.request.get("roleArns")))
    node = ctx.resource(arn, "rolesanywhere:profile", name=name) if arn else None
    return ctx.effect(node, {"role_arns": role_arns}, nodes=[ctx.role(role) for role in role_arns])


def caller_subject(ctx: Context) -> ActionEffect:
    """Calls a principal makes about itself (ChangePassword)."""
    return ctx.effect(ctx.caller_node())


RULES: tuple[ActionRule, ...] = rules(
    "iam.amazonaws.com",
    "iam",
    {
        "CreateUser": (create_user, Control.ALWAYS),
        "DeleteUser": user_subject,
        "GetUser": user_subject,
        "ChangePassword": caller_subject,
        "CreateAccessKey": (create_access_key, Control.ALWAYS),
        "UpdateAccessKey": access_key,
        "DeleteAccessKey": access_key,
        "ListAccessKeys": user_subject,
        "CreateLoginProfile": (user_subject, Control.ALWAYS),
        "UpdateLoginProfile": (user_subject, Control.ALWAYS),
        "DeleteLoginProfile": user_subject,
        "GetLoginProfile": user_subject,
        "CreateVirtualMFADevice": create_virtual_mfa_device,
        "EnableMFADevice": mfa_device,
        "DeactivateMFADevice": mfa_device,
        "AddUserToGroup": (group_membership, Control.ALWAYS),
        "RemoveUserFromGroup": group_membership,
        "CreateGroup": group_subject,
        "DeleteGroup": group_subject,
        "AttachUserPolicy": (attach_policy, Control.CONDITIONAL),
        "AttachRolePolicy": (attach_policy, Control.CONDITIONAL),
        "AttachGroupPolicy": (attach_policy, Control.CONDITIONAL),
        "DetachUserPolicy": detach_policy,
        "DetachRolePolicy": detach_policy,
        "DetachGroupPolicy": detach_policy,
        "PutUserPolicy": (put_inline_policy, Control.CONDITIONAL),
        "PutRolePolicy": (put_inline_policy, Control.CONDITIONAL),
        "PutGroupPolicy": (put_inline_policy, Control.CONDITIONAL),
        "DeleteUserPolicy": delete_inline_policy,
        "DeleteRolePolicy": delete_inline_policy,
        "DeleteGroupPolicy": delete_inline_policy,
        "CreatePolicy": create_policy,
        "DeletePolicy": policy_subject,
        "CreatePolicyVersion": (create_policy_version, Control.CONDITIONAL),
        "SetDefaultPolicyVersion": (set_default_policy_version, Control.CONDITIONAL),
        "CreateRole": create_role,
        "DeleteRole": role_subject,
        "UpdateAssumeRolePolicy": (update_assume_role_policy, Control.ALWAYS),
        "CreateServiceLinkedRole": create_service_linked_role,
        "CreateInstanceProfile": instance_profile,
        "AddRoleToInstanceProfile": instance_profile,
        "RemoveRoleFromInstanceProfile": instance_profile,
        "DeleteInstanceProfile": instance_profile,
        "CreateSAMLProvider": saml_provider,
        "UpdateSAMLProvider": saml_provider,
    },
)

ROLES_ANYWHERE_RULES: tuple[ActionRule, ...] = rules(
    "rolesanywhere.amazonaws.com",
    "iam",
    {"CreateTrustAnchor": create_trust_anchor, "CreateProfile": create_roles_anywhere_profile},
)
