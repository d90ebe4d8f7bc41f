"""EC2 (``ec2.amazonaws.com``) and EC2 Instance Connect: network exposure, sharing, launches, instance access."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.context import Context, as_bool, as_int, items, scalar, strings
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, Control, FactValue, NodeRef, rules
from graphtrail.cloudtrail.event import Fields

# Ports whose exposure to the internet is a remote-access door (SSH, Telnet, FTP, SMB, RDP, WinRM).
REMOTE_ACCESS_PORTS = frozenset({21, 22, 23, 445, 3389, 5985, 5986})
_ALL_PROTOCOLS = frozenset({"-1", "all"})
_PORT_PROTOCOLS = frozenset({"tcp", "udp", "6", "17", None})  # ICMP "ports" are message types
_GPU_TYPE_RE = re.compile(r"^(p\d|g\d|inf\d|trn\d|dl\d|f\d|vt\d)", re.IGNORECASE)


# --- security groups and network ACLs -----------------------------------------------------------------------


@dataclass
class _Rules:
    """Rules of one call, flattened to what hunts ask: from where, to which ports, over what."""

    cidrs: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    source_groups: list[str] = field(default_factory=list)
    prefix_lists: list[str] = field(default_factory=list)
    world: bool = False
    remote_access: bool = False

    def add(self, protocol: str | None, from_port: int | None, to_port: int | None, cidrs: list[str]) -> None:
        protocol = (protocol or "").lower() or None
        everything = protocol in _ALL_PROTOCOLS
        if protocol:
            _append(self.protocols, "all" if everything else protocol)
        port = _port_text(from_port, to_port, everything)
        if port:
            _append(self.ports, port)
        for cidr in cidrs:
            _append(self.cidrs, cidr)
            if _is_world(cidr):
                self.world = True
                if everything or (protocol in _PORT_PROTOCOLS and _covers_remote_access(from_port, to_port)):
                    self.remote_access = True


def _append(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


def _port_text(from_port: int | None, to_port: int | None, everything: bool) -> str | None:
    if everything:
        return "all"
    if from_port is None and to_port is None:
        return None
    low, high = from_port if from_port is not None else to_port, to_port if to_port is not None else from_port
    return str(low) if low == high else f"{low}-{high}"


def _is_world(cidr: str) -> bool:
    """A /0 of any address: anonymised logs write ``208.236.235.254/0``, which is still the whole internet."""
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return cidr.strip().endswith("/0")


def _covers_remote_access(from_port: int | None, to_port: int | None) -> bool:
    low = from_port if from_port is not None else to_port
    high = to_port if to_port is not None else from_port
    if low is None or high is None:
        return False
    return any(low <= port <= high for port in REMOTE_ACCESS_PORTS)


def _permission_rules(ctx: Context) -> _Rules:
    """Both request shapes (flat legacy and `ipPermissions.items`), then the response's rule set as a fallback."""
    found = _Rules()
    request = ctx.request
    if any(name in request for name in ("cidrIp", "cidrIpv6", "ipProtocol", "sourceSecurityGroupName")):
        cidrs = [cidr for cidr in (scalar(request.get("cidrIp")), scalar(request.get("cidrIpv6"))) if cidr]
        found.add(
            scalar(request.get("ipProtocol")), as_int(request.get("fromPort")), as_int(request.get("toPort")), cidrs
        )
        group = scalar(request.get("sourceSecurityGroupName")) or scalar(request.get("sourceSecurityGroupId"))
        if group:
            _append(found.source_groups, group)
    for permission in items(request.get("ipPermissions")):
        cidrs = [cidr for item in items(permission.get("ipRanges")) if (cidr := item.text("cidrIp"))]
        cidrs += [cidr for item in items(permission.get("ipv6Ranges")) if (cidr := item.text("cidrIpv6"))]
        protocol = scalar(permission.get("ipProtocol"))
        found.add(protocol, as_int(permission.get("fromPort")), as_int(permission.get("toPort")), cidrs)
        for group in items(permission.get("groups")):
            if name := group.text("groupId") or group.text("groupName"):
                _append(found.source_groups, name)
        for prefix in items(permission.get("prefixListIds")):
            if name := prefix.text("prefixListId"):
                _append(found.prefix_lists, name)
    if not (found.cidrs or found.ports or found.source_groups or found.prefix_lists):
        for rule in items(ctx.response.get("securityGroupRuleSet")):
            _add_rule_object(found, rule)
    return found


def _add_rule_object(found: _Rules, rule: Fields) -> None:
    """A rule in the newer object form (`securityGroupRuleSet`, ModifySecurityGroupRules)."""
    cidrs = [cidr for cidr in (rule.text("cidrIpv4"), rule.text("cidrIpv6")) if cidr]
    found.add(rule.text("ipProtocol"), as_int(rule.get("fromPort")), as_int(rule.get("toPort")), cidrs)
    group = rule.sub("referencedGroupInfo").text("groupId") or rule.text("referencedGroupId")
    if group:
        _append(found.source_groups, group)
    if prefix := rule.text("prefixListId"):
        _append(found.prefix_lists, prefix)


def _rule_facts(found: _Rules, egress: bool) -> dict[str, FactValue | None]:
    return {
        "cidrs": tuple(found.cidrs),
        "ports": tuple(found.ports),
        "protocols": tuple(found.protocols),
        "source_groups": tuple(found.source_groups),
        "prefix_lists": tuple(found.prefix_lists),
        "open_to_world": found.world,
        "remote_access_open": found.remote_access and not egress,
        "egress": egress,
    }


def security_group_rules(ctx: Context) -> ActionEffect:
    """Authorize/Revoke Ingress/Egress: the group, and what the rules open (or close) to whom."""
    group = ctx.ec2("security-group", ctx.param("groupId")) or _group_by_name(ctx)
    egress = "Egress" in ctx.name
    return ctx.effect(group, _rule_facts(_permission_rules(ctx), egress))


def _group_by_name(ctx: Context) -> NodeRef | None:
    name = ctx.param("groupName")
    return ctx.ec2("security-group", name) if name else None


def modify_security_group_rules(ctx: Context) -> ActionEffect:
    request = ctx.request.sub("ModifySecurityGroupRulesRequest") or ctx.request
    found = _Rules()
    for rule in items(request.get("SecurityGroupRule")):
        _add_rule_object(found, rule.sub("SecurityGroupRule") or rule)
    group = ctx.ec2("security-group", request.text("GroupId"))
    return ctx.effect(group, _rule_facts(found, egress=False))


def create_security_group(ctx: Context) -> ActionEffect:
    group = ctx.ec2("security-group", ctx.response.text("groupId")) or _group_by_name(ctx)
    return ctx.effect(group, {"group_name": ctx.param("groupName"), "vpc_id": ctx.param("vpcId")})


def delete_security_group(ctx: Context) -> ActionEffect:
    return ctx.effect(ctx.ec2("security-group", ctx.param("groupId")) or _group_by_name(ctx))


def network_acl_entry(ctx: Context) -> ActionEffect:
    """NACL entries: an `allow` from /0 is the subnet-wide version of an open security group."""
    found = _Rules()
    ports = ctx.request.sub("portRange")
    cidrs = [cidr for cidr in (ctx.param("cidrBlock"), ctx.param("ipv6CidrBlock")) if cidr]
    found.add(ctx.param("aclProtocol", "protocol"), as_int(ports.get("from")), as_int(ports.get("to")), cidrs)
    egress = as_bool(ctx.request.get("egress")) is True
    action = ctx.param("ruleAction")
    facts = _rule_facts(found, egress)
    if action and action.lower() != "allow":
        facts["open_to_world"] = facts["remote_access_open"] = False
    facts["rule_action"] = action
    return ctx.effect(ctx.ec2("network-acl", ctx.param("networkAclId")), facts)


# --- sharing -----------------------------------------------------------------------------------------------


def _permission_changes(ctx: Context, attribute_key: str) -> tuple[list[str], list[str], bool]:
    """(accounts added, accounts removed, made public) from either logged form of a permission change."""
    added: list[str] = []
    removed: list[str] = []
    public = False
    permission = ctx.request.sub(attribute_key)
    changes = [("add", items(permission.get("add"))), ("remove", items(permission.get("remove")))]
    operation = (ctx.param("operationType") or "").lower()
    if operation in ("add", "remove"):
        flat = [Fields({"userId": user}) for user in strings(ctx.request.get("userIds") or ctx.request.get("userId"))]
        flat += [
            Fields({"group": group}) for group in strings(ctx.request.get("groupNames") or ctx.request.get("group"))
        ]
        changes.append((operation, flat))
    for operation_name, entries in changes:
        target = added if operation_name == "add" else removed
        for entry in entries:
            user = entry.text("userId")
            if user and user not in target:
                target.append(user)
            if operation_name == "add" and (entry.text("group") or "").lower() == "all":
                public = True
    return added, removed, public


def _share_effect(
    ctx: Context, node: NodeRef | None, added: list[str], removed: list[str], public: bool
) -> ActionEffect:
    owner = node.account if node is not None else ctx.account
    outside = [account for account in added if account != owner]
    facts = {
        "shared_with": tuple(added),
        "unshared_from": tuple(removed),
        "public": public,
        "external": bool(outside) or public,
    }
    return ctx.effect(
        node, facts, nodes=[ctx.account_node(account) for account in outside if arns.is_account_id(account)]
    )


def modify_snapshot_attribute(ctx: Context) -> ActionEffect:
    """createVolumePermission: who may now copy the disk."""
    added, removed, public = _permission_changes(ctx, "createVolumePermission")
    return _share_effect(ctx, ctx.ec2("snapshot", ctx.param("snapshotId")), added, removed, public)


def modify_image_attribute(ctx: Context) -> ActionEffect:
    """launchPermission: who may now launch (and read) the image."""
    added, removed, public = _permission_changes(ctx, "launchPermission")
    return _share_effect(ctx, ctx.ec2("image", ctx.param("imageId")), added, removed, public)


def create_snapshot(ctx: Context) -> ActionEffect:
    snapshot = ctx.ec2("snapshot", ctx.response.text("snapshotId"))
    facts = {
        "volume_id": ctx.param("volumeId"),
        "source_snapshot_id": ctx.param("sourceSnapshotId"),
        "source_region": ctx.param("sourceRegion"),
    }
    return ctx.effect(snapshot or ctx.ec2("volume", ctx.param("volumeId")), facts)


def create_image(ctx: Context) -> ActionEffect:
    image = ctx.ec2("image", ctx.response.text("imageId"))
    instance_id = ctx.param("instanceId")
    facts = {
        "instance_ids": (instance_id,) if instance_id else (),
        "source_image_id": ctx.param("sourceImageId"),
        "source_region": ctx.param("sourceRegion"),
    }
    return ctx.effect(image or ctx.ec2("instance", instance_id), facts)


# --- launches and instance access ---------------------------------------------------------------------------


def _instance_profile_arn(ctx: Context, profile: Fields) -> str | None:
    arn = profile.text("arn")
    if arn:
        return arn
    name = profile.text("name")
    if name and ctx.account:
        return arns.instance_profile_arn(ctx.partition, ctx.account, name)
    return name


def _profile_node(ctx: Context, profile_arn: str | None) -> NodeRef | None:
    if not profile_arn:
        return None
    parsed = arns.parse_arn(profile_arn)
    return ctx.resource(profile_arn, "iam:instance-profile", name=parsed.resource_name if parsed else profile_arn)


def run_instances(ctx: Context) -> ActionEffect:
    """RunInstances: the instances launched; passing an instance profile hands its role to the workload."""
    launched = items(ctx.response.get("instancesSet"))
    requested = items(ctx.request.get("instancesSet"))
    profile = _instance_profile_arn(ctx, ctx.request.sub("iamInstanceProfile"))
    if profile is None:
        profile = next((p for item in launched if (p := item.sub("iamInstanceProfile").text("arn"))), None)
    instance_type = scalar(ctx.request.get("instanceType")) or ctx.request.sub("instanceType").text("value")
    instance_ids = [instance_id for item in launched if (instance_id := item.text("instanceId"))]
    image_ids = [image for item in (requested or launched) if (image := item.text("imageId"))]
    key_names = [key for item in (requested or launched) if (key := item.text("keyName"))]
    facts = {
        "instance_ids": tuple(instance_ids),
        "instance_count": len(instance_ids) or None,
        "requested_count": sum(as_int(item.get("maxCount")) or 0 for item in requested) or None,
        "instance_type": instance_type,
        "gpu_instance": bool(instance_type and _GPU_TYPE_RE.match(instance_type)),
        "image_ids": tuple(dict.fromkeys(image_ids)),
        "key_names": tuple(dict.fromkeys(key_names)),
        "role_passed": profile,
        "user_data_present": "userData" in ctx.request or None,
        "launch_template": ctx.request.sub("launchTemplate").text("launchTemplateId"),
    }
    instances = ctx.instances(instance_ids)
    target = instances[0] if instances else None
    return ctx.effect(
        target, facts, traversable=profile is not None, nodes=[*instances[1:], _profile_node(ctx, profile)]
    )


def associate_instance_profile(ctx: Context) -> ActionEffect:
    """Associate/ReplaceIamInstanceProfile: a role handed to a running instance."""
    association = ctx.response.sub("iamInstanceProfileAssociation")
    instance_id = ctx.param("instanceId") or association.text("instanceId")
    profile = _instance_profile_arn(ctx, ctx.request.sub("iamInstanceProfile"))
    return ctx.effect(
        ctx.ec2("instance", instance_id),
        {"role_passed": profile, "instance_ids": (instance_id,) if instance_id else ()},
        traversable=profile is not None,
        nodes=[_profile_node(ctx, profile)],
    )


def _instance_ids(ctx: Context) -> list[str]:
    ids = strings(ctx.request.get("instanceId")) + strings(ctx.request.get("instanceIds"))
    ids += [instance_id for item in items(ctx.request.get("instancesSet")) if (instance_id := item.text("instanceId"))]
    return list(dict.fromkeys(ids))


def instance_subject(ctx: Context) -> ActionEffect:
    """Calls about instances (start/stop/terminate, GetPasswordData, console output)."""
    ids = _instance_ids(ctx)
    instances = ctx.instances(ids)
    target = instances[0] if instances else None
    return ctx.effect(target, {"instance_ids": tuple(ids)}, nodes=instances[1:])


def describe_instance_attribute(ctx: Context) -> ActionEffect:
    """Reading `userData` is how secrets in bootstrap scripts are stolen."""
    attribute = ctx.param("attribute")
    effect = instance_subject(ctx)
    facts = {**effect.facts, "attribute": attribute, "user_data": attribute == "userData" or None}
    return ctx.effect(effect.target, facts, nodes=effect.nodes)


def modify_instance_attribute(ctx: Context) -> ActionEffect:
    """New user data runs as root on the next start: control over the workload (and its role)."""
    changed = [name for name in ctx.request if name.lower() not in ("instanceid", "attribute", "value")]
    attribute = ctx.param("attribute")
    if attribute:
        changed.append(attribute)
    user_data = any(name.lower() == "userdata" for name in changed)
    effect = instance_subject(ctx)
    facts = {**effect.facts, "attributes": tuple(dict.fromkeys(changed)), "user_data_changed": user_data}
    return ctx.effect(effect.target, facts, traversable=user_data, nodes=effect.nodes)


def create_instance_export_task(ctx: Context) -> ActionEffect:
    export = ctx.request.sub("exportToS3")
    bucket = ctx.bucket(export.text("s3Bucket"), account=None)
    effect = instance_subject(ctx)
    facts = {**effect.facts, "s3_bucket": export.text("s3Bucket"), "export_format": export.text("diskImageFormat")}
    return ctx.effect(effect.target, facts, nodes=[bucket])


def _key_pair(ctx: Context) -> NodeRef | None:
    name = ctx.param("keyName") or ctx.response.text("keyName")
    return ctx.ec2("key-pair", name)


def key_pair(ctx: Context) -> ActionEffect:
    """Key pairs: the name and AWS's fingerprint; never the (already removed) private key."""
    facts = {"key_name": ctx.param("keyName"), "key_fingerprint": ctx.response.text("keyFingerprint")}
    return ctx.effect(_key_pair(ctx), facts)


def ssh_key_fingerprint(public_key: str | None) -> tuple[str | None, str | None]:
    """(key type, OpenSSH-style SHA256 fingerprint) of a public key line, so reuse shows without storing the key."""
    if not public_key:
        return None, None
    parts = public_key.split()
    key_type = parts[0][:40] if parts else None
    if len(parts) < 2:
        return key_type, None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return key_type, None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return key_type, f"SHA256:{digest}"


def send_ssh_public_key(ctx: Context) -> ActionEffect:
    """EC2 Instance Connect / serial console: a key the caller can log in with for 60 seconds."""
    key_type, fingerprint = ssh_key_fingerprint(ctx.param("sSHPublicKey"))
    effect = instance_subject(ctx)
    facts = {
        **effect.facts,
        "os_user": ctx.param("instanceOSUser"),
        "ssh_key_type": key_type,
        "ssh_key_fingerprint": fingerprint,
        "serial_port": scalar(ctx.request.get("serialPort")),  # a label (text), not an amount to sum
    }
    return ctx.effect(effect.target, facts, traversable=True, nodes=effect.nodes)


def serial_console_access(ctx: Context) -> ActionEffect:
    enabled = ctx.name.startswith("Enable")
    return ctx.effect(ctx.service("ec2.amazonaws.com"), {"serial_console_enabled": enabled})


def delete_flow_logs(ctx: Context) -> ActionEffect:
    """Flow logs gone: network evidence stops. The request is XML-shaped (``FlowLogId.content``) or a plain list."""
    request = ctx.request.sub("DeleteFlowLogsRequest") or ctx.request
    value = request.get("FlowLogId") if "FlowLogId" in request else request.get("flowLogIds")
    ids = strings(value) + [text for item in items(value) if (text := item.text("content") or item.text("flowLogId"))]
    ids = list(dict.fromkeys(ids))
    logs = [node for flow_log in ids if (node := ctx.ec2("vpc-flow-log", flow_log, "ec2:flow-log")) is not None]
    target = logs[0] if logs else None
    return ctx.effect(target, {"flow_log_ids": tuple(ids), "impairs_detection": True}, nodes=logs[1:])


_INSTANCE_CALLS = (
    "StartInstances",
    "StopInstances",
    "TerminateInstances",
    "RebootInstances",
    "GetPasswordData",
    "GetConsoleOutput",
    "GetConsoleScreenshot",
)

RULES: tuple[ActionRule, ...] = (
    *rules(
        "ec2.amazonaws.com",
        "ec2",
        {
            "AuthorizeSecurityGroupIngress": security_group_rules,
            "AuthorizeSecurityGroupEgress": security_group_rules,
            "RevokeSecurityGroupIngress": security_group_rules,
            "RevokeSecurityGroupEgress": security_group_rules,
            "ModifySecurityGroupRules": modify_security_group_rules,
            "CreateSecurityGroup": create_security_group,
            "DeleteSecurityGroup": delete_security_group,
            "CreateNetworkAclEntry": network_acl_entry,
            "ReplaceNetworkAclEntry": network_acl_entry,
            "DeleteNetworkAclEntry": network_acl_entry,
            "ModifySnapshotAttribute": modify_snapshot_attribute,
            "ModifyImageAttribute": modify_image_attribute,
            "CreateSnapshot": create_snapshot,
            "CopySnapshot": create_snapshot,
            "CreateImage": create_image,
            "CopyImage": create_image,
            "RunInstances": (run_instances, Control.CONDITIONAL),
            "AssociateIamInstanceProfile": (associate_instance_profile, Control.CONDITIONAL),
            "ReplaceIamInstanceProfileAssociation": (associate_instance_profile, Control.CONDITIONAL),
            **dict.fromkeys(_INSTANCE_CALLS, instance_subject),
            "DescribeInstanceAttribute": describe_instance_attribute,
            "ModifyInstanceAttribute": (modify_instance_attribute, Control.CONDITIONAL),
            "CreateInstanceExportTask": create_instance_export_task,
            "CreateKeyPair": key_pair,
            "ImportKeyPair": key_pair,
            "DeleteKeyPair": key_pair,
            "EnableSerialConsoleAccess": serial_console_access,
            "DisableSerialConsoleAccess": serial_console_access,
            "DeleteFlowLogs": delete_flow_logs,
        },
    ),
    *rules(
        "ec2-instance-connect.amazonaws.com",
        "ec2",
        {
            "SendSSHPublicKey": (send_ssh_public_key, Control.ALWAYS),
            "SendSerialConsoleSSHPublicKey": (send_ssh_public_key, Control.ALWAYS),
        },
    ),
)
