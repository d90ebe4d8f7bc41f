"""The event as the rules see it, with node builders and readers that tolerate any shape.

CloudTrail's parameter blocks vary by service and era: EC2 wraps lists as ``{"items": [...]}``, S3 headers
arrive as one-element lists, booleans as ``{"value": false}``, numbers as strings. Attackers and exporters add
their own oddities. Every rule reads through these helpers so a string where a dict was expected (or the
reverse) yields "nothing here" instead of an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions.model import (
    NO_PROPS,
    ActionEffect,
    FactValue,
    NodeRef,
    StructuralEdge,
    clean_facts,
    clean_node,
)
from graphtrail.cloudtrail.event import Event, Fields

_MAX_LIST = 200  # never walk more than this many items of one attacker-sized list


def items(value: Any) -> list[Fields]:
    """The objects of a list-ish value: a list, EC2's ``{"items": [...]}``, XML's ``{"item": [...]}``, or one object."""
    if isinstance(value, Mapping):
        inner = Fields(value)
        for wrapper in ("items", "item"):
            if wrapper in inner:
                return items(inner[wrapper])
        return [inner] if inner else []
    if isinstance(value, list):
        return [Fields(item) for item in value[:_MAX_LIST] if isinstance(item, Mapping)]
    return []


def strings(value: Any) -> list[str]:
    """The scalar strings of a value that may be one string, a list of them, or an EC2 ``items`` wrapper."""
    if isinstance(value, Mapping):
        inner = Fields(value)
        for wrapper in ("items", "item"):
            if wrapper in inner:
                return strings(inner[wrapper])
        return []
    if isinstance(value, list):
        return [text for item in value[:_MAX_LIST] if (text := scalar(item)) is not None]
    text = scalar(value)
    return [text] if text is not None else []


def scalar(value: Any) -> str | None:
    """A non-empty string for a str/int/float value; None for containers, booleans, None and empty strings."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, float)):
        text = str(value).strip()
        return text or None
    return None


def first_text(value: Any) -> str | None:
    """The first string of a value that may be list-wrapped (S3 headers: ``"x-amz-acl": ["public-read"]``)."""
    found = strings(value)
    return found[0] if found else None


def as_int(value: Any) -> int | None:
    """An integer from an int, a float, a numeric string or EC2's ``{"value": …}``; None otherwise."""
    if isinstance(value, Mapping):
        return as_int(Fields(value).get("value"))
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 2**63 else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d{1,18}", text):
            return int(text)
    return None


def as_bool(value: Any) -> bool | None:
    """A boolean from a bool, ``"true"``/``"false"`` (any case) or EC2's ``{"value": …}``; None otherwise."""
    if isinstance(value, Mapping):
        return as_bool(Fields(value).get("value"))
    if isinstance(value, list) and len(value) == 1:
        return as_bool(value[0])
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


@lru_cache(maxsize=1 << 14)
def account_in(text: str | None) -> str | None:
    """The account a principal string names: a bare 12-digit id or the account field of an ARN (memoized:
    the same keys, buckets and principals come back event after event)."""
    if arns.is_account_id(text):
        return text
    parsed = arns.parse_arn(text)
    if parsed is not None and arns.is_account_id(parsed.account):
        return parsed.account
    return None


_S3_LIKE_NAMELESS = {"s3": "bucket", "sqs": "queue", "sns": "topic"}


def resource_type_of_arn(parsed: arns.Arn) -> str:
    """``service:type`` for a resource ARN (``ec2:instance``, ``s3:bucket``, ``s3:object``, ``sns:topic``…)."""
    service = parsed.service.lower()
    if service == "s3":
        return "s3:object" if "/" in parsed.resource else "s3:bucket"
    if not re.search(r"[/:]", parsed.resource):
        kind = _S3_LIKE_NAMELESS.get(service)
        return f"{service}:{kind}" if kind else service
    return f"{service}:{parsed.resource_type}"


def _other_nodes(target: str, nodes: Iterable[NodeRef | None]) -> tuple[NodeRef, ...]:
    seen = {target}
    unique = []
    for node in nodes:
        if node is not None and node.key not in seen:
            seen.add(node.key)
            unique.append(clean_node(node))
    return tuple(unique)


@lru_cache(maxsize=1 << 14)
def _arn_node(text: str, fallback_account: str | None) -> NodeRef | None:
    """`Context.arn_node` without props; NodeRefs are immutable, so one serves every event naming the ARN."""
    parsed = arns.parse_arn(text)
    if parsed is None:
        return None
    kind = None
    if parsed.service == "iam":
        kind = {"user": "User", "role": "Role", "root": "Root"}.get(parsed.resource_type)
    elif parsed.service == "sts":
        kind = {"assumed-role": "Session", "federated-user": "FederatedUser"}.get(parsed.resource_type)
    if kind:
        account = parsed.account if arns.is_account_id(parsed.account) else None
        return NodeRef(key=text, kind=kind, account=account, name=parsed.resource_name)
    return _resource_node(text, resource_type_of_arn(parsed), parsed.resource_name, None, fallback_account)


def _resource_node(
    key: str,
    resource_type: str,
    name: str | None,
    account: str | None,
    fallback_account: str | None,
    props: Mapping[str, object] | None = None,
) -> NodeRef:
    """A Resource node; its owner is `account`, else the account its key names, else `fallback_account`."""
    owner = account if account is not None else (account_in(key) or fallback_account)
    own_props = dict(props) if props else NO_PROPS
    return NodeRef(key, "Resource", owner, name or key, resource_type, own_props)


class Context(NamedTuple):
    """One event plus what every rule needs to name nodes: partition, account and region (a NamedTuple, as
    the effects it builds)."""

    event: Event
    name: str  # the event name without an API-version suffix
    partition: str
    account: str | None
    region: str | None

    @classmethod
    def of(cls, event: Event, name: str) -> Context:
        account = event.account or event.principal.account
        return cls(
            event=event,
            name=name,
            partition=event.principal.partition or "aws",
            account=account if account and account.isdigit() else None,  # sanitized samples use short ids
            region=event.region,
        )

    # --- the event's blocks -------------------------------------------------------------------------------
    @property
    def request(self) -> Fields:
        return self.event.request

    @property
    def response(self) -> Fields:
        return self.event.response

    @property
    def additional(self) -> Fields:
        return self.event.additional

    @property
    def actor(self) -> str:
        return self.event.principal.key

    @property
    def failed(self) -> bool:
        return self.event.failed

    def param(self, *names: str) -> str | None:
        """The first of `names` present as text in requestParameters."""
        for name in names:
            text = scalar(self.request.get(name))
            if text is not None:
                return text
        return None

    # --- effects ------------------------------------------------------------------------------------------
    def effect(
        self,
        target: NodeRef | None,
        facts: Mapping[str, FactValue | None] | None = None,
        *,
        traversable: bool = False,
        nodes: Iterable[NodeRef | None] = (),
        structural: Iterable[StructuralEdge] = (),
    ) -> ActionEffect:
        """Assemble an effect: a missing target falls back to the event's service; facts and props are made
        JSON-safe and small (empty ones dropped); each other node is listed once, the target not again."""
        target = self.service() if target is None else clean_node(target)
        return ActionEffect(
            target=target,
            facts=clean_facts(facts) if facts else {},
            traversable=traversable,
            nodes=_other_nodes(target.key, nodes) if nodes else (),
            structural=tuple(dict.fromkeys(structural)) if structural else (),
        )

    # --- node builders ------------------------------------------------------------------------------------
    def service(self, service: str | None = None) -> NodeRef:
        name = service or self.event.source or "unknown.amazonaws.com"
        return NodeRef(key=name, kind="Service", name=name)

    def account_node(self, account: str) -> NodeRef:
        return NodeRef(key=account, kind="Account", account=account, name=account)

    def resource(
        self,
        key: str,
        resource_type: str,
        name: str | None = None,
        account: str | None = None,
        props: Mapping[str, object] | None = None,
    ) -> NodeRef:
        return _resource_node(key, resource_type, name, account, self.account, props)

    def arn_node(self, text: str | None, props: Mapping[str, object] | None = None) -> NodeRef | None:
        """Any ARN as the node of the right kind: IAM users/roles/root and STS sessions are principals."""
        if not isinstance(text, str):
            return None
        node = _arn_node(text, self.account)
        return node._replace(props=dict(props)) if node is not None and props else node

    def user(self, name: str | None) -> NodeRef | None:
        """An IAM user by name (or ARN); the caller's own ARN, which keeps its path, when it is the caller."""
        if not name:
            return None
        if name.startswith("arn:"):
            return self.arn_node(name)
        principal = self.event.principal
        if principal.kind == "User" and principal.name == name and principal.account in (None, self.account):
            return NodeRef(key=principal.key, kind="User", account=principal.account, name=name)
        if self.account is None:
            return None
        return NodeRef(
            key=arns.user_arn(self.partition, self.account, name), kind="User", account=self.account, name=name
        )

    def role(self, name_or_arn: str | None) -> NodeRef | None:
        """An IAM role by name or ARN; the caller's issuing role ARN (with its path) when the names match."""
        if not name_or_arn:
            return None
        if name_or_arn.startswith("arn:"):
            node = self.arn_node(name_or_arn)
            return node if node is not None and node.kind == "Role" else None
        issuer = arns.parse_arn(self.event.principal.issuer_arn)
        if (
            issuer is not None
            and issuer.resource_type == "role"
            and issuer.resource_name == name_or_arn
            and issuer.account == self.account
        ):
            return NodeRef(
                key=str(self.event.principal.issuer_arn), kind="Role", account=self.account, name=name_or_arn
            )
        if self.account is None:
            return None
        key = arns.role_arn(self.partition, self.account, name_or_arn)
        return NodeRef(key=key, kind="Role", account=self.account, name=name_or_arn)

    def group(self, name: str | None) -> NodeRef | None:
        if not name:
            return None
        if name.startswith("arn:"):
            return self.arn_node(name)
        if self.account is None:
            return None
        return self.resource(arns.group_arn(self.partition, self.account, name), "iam:group", name=name)

    def policy(self, policy_arn: str | None) -> NodeRef | None:
        parsed = arns.parse_arn(policy_arn)
        if parsed is None or policy_arn is None:
            return None
        # AWS managed policies (account field ``aws``) belong to no account, not to the caller's.
        owner = parsed.account if parsed.account.isdigit() else None
        return NodeRef(
            key=policy_arn, kind="Resource", account=owner, name=parsed.resource_name, resource_type="iam:policy"
        )

    def caller_node(self) -> NodeRef:
        principal = self.event.principal
        return NodeRef(key=principal.key, kind=principal.kind, account=principal.account, name=principal.name)

    def regional(
        self, service: str, resource: str, resource_type: str, name: str, account: str | None = None
    ) -> NodeRef:
        """A regional resource: its ARN when region and account are known, else ``service:type/name``."""
        owner = account or self.account
        if self.region and owner:
            key = arns.build_arn(self.partition, service, self.region, owner, resource)
        else:
            key = f"{resource_type}/{name}"
        return self.resource(key, resource_type, name=name, account=owner)

    def ec2(self, resource_type: str, resource_id: str | None, node_type: str | None = None) -> NodeRef | None:
        """An EC2 resource by id (``sg-…``, ``i-…``, ``snap-…``); an ARN passed in is used as is.

        `node_type` overrides the node's ``ec2:<arn type>`` when graphtrail's name differs from the ARN's.
        """
        if not resource_id:
            return None
        if resource_id.startswith("arn:"):
            return self.arn_node(resource_id)
        if self.region and self.account:
            key = arns.ec2_arn(self.partition, self.region, self.account, resource_type, resource_id)
        else:
            key = resource_id
        return self.resource(key, node_type or f"ec2:{resource_type}", name=resource_id, account=self.account)

    def bucket(self, name: str | None, account: str | None = None) -> NodeRef | None:
        if not name:
            return None
        if name.startswith("arn:"):
            parsed = arns.parse_arn(name)
            if parsed is None or parsed.service != "s3":
                return None
            name = parsed.resource.split("/", 1)[0]
            if not name:
                return None
        key = arns.s3_bucket_arn(name, self.partition)
        return self.resource(key, "s3:bucket", name=name, account=account if account else self.account)

    def instances(self, ids: Iterable[str]) -> list[NodeRef]:
        return [node for instance_id in ids if (node := self.ec2("instance", instance_id)) is not None]
