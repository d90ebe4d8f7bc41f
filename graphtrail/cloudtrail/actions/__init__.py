"""The action table: for each CloudTrail call, where its action edge points and what it tells the graph.

`resolve_action(event)` looks the call up by (eventSource, eventName) — Lambda's API-version suffixes
(``CreateFunction20150331``) stripped for the look-up only — and returns an `ActionEffect`: the target node
(``CreateAccessKey`` → the new key, ``AssumeRole`` → the session, ``GetObject`` → the bucket…), a few
JSON-safe facts for the hunts, extra nodes the event names and the structural edges it proves. Calls not in
the table point at the first ARN of ``resources`` (a bucket before its objects), else at the service.

Failed calls keep their target and facts (attempts matter) but are never traversable.

>>> effect = resolve_action(event)  # doctest: +SKIP
>>> effect.target.kind, effect.facts.get("admin"), effect.traversable  # doctest: +SKIP
('User', True, True)

The families live in one module each: `iam`, `sts` (and sign-in), `s3`, `ec2` (and Instance Connect), `rds`,
`detection` (logging and detection tampering), `secrets` (Secrets Manager, Parameter Store, KMS) and
`compute` (Lambda, SSM Run Command / Session Manager, PassRole launches).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from functools import lru_cache

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions import compute, detection, ec2, iam, rds, s3, secrets, sts
from graphtrail.cloudtrail.actions.context import Context
from graphtrail.cloudtrail.actions.model import ActionEffect, ActionRule, Control, NodeRef, StructuralEdge
from graphtrail.cloudtrail.event import Event

__all__ = [
    "TRAVERSABLE_ACTIONS",
    "ActionEffect",
    "ActionRule",
    "Control",
    "NodeRef",
    "StructuralEdge",
    "action_rules",
    "base_event_name",
    "covered_event_names",
    "find_rule",
    "resolve_action",
]

log = logging.getLogger(__name__)


_RULES: tuple[ActionRule, ...] = (
    *iam.RULES,
    *iam.ROLES_ANYWHERE_RULES,
    *sts.RULES,
    *s3.RULES,
    *ec2.RULES,
    *rds.RULES,
    *detection.RULES,
    *secrets.RULES,
    *compute.RULES,
)


def _index(declared: tuple[ActionRule, ...]) -> dict[tuple[str, str], ActionRule]:
    table: dict[tuple[str, str], ActionRule] = {}
    for rule in declared:
        key = (rule.source, rule.name)
        if key in table:
            raise ValueError(f"action rule declared twice: {rule.source} {rule.name}")
        table[key] = rule
    return table


_TABLE = _index(_RULES)
_BY_NAME: dict[str, list[ActionRule]] = defaultdict(list)
for _rule in _RULES:
    _BY_NAME[_rule.name].append(_rule)

TRAVERSABLE_ACTIONS: frozenset[str] = frozenset(rule.name for rule in _RULES if rule.control is not Control.NEVER)
"""Event names (without version suffixes) whose edge can transfer control; see `action_rules` for when."""

# Lambda (``20150331``, ``20150331v2``) and CloudFront (``2020_05_31``) put the API version in eventName.
_VERSION_SUFFIX_RE = re.compile(r"^(?P<base>[A-Za-z]+?)(?:\d{8}|\d{4}_\d{2}_\d{2})(?:v\d+)?$")


@lru_cache(maxsize=4096)
def base_event_name(name: str) -> str:
    """``CreateFunction20150331`` → ``CreateFunction``; names without a version suffix are returned as is."""
    match = _VERSION_SUFFIX_RE.match(name)
    return match.group("base") if match else name


def covered_event_names() -> tuple[str, ...]:
    """Every event name the table has a rule for (without version suffixes), sorted; for the docs."""
    return tuple(sorted({rule.name for rule in _RULES}))


def action_rules() -> tuple[ActionRule, ...]:
    """Every declared rule, ordered by family, source and name; for the docs and the coverage tests."""
    return tuple(sorted(_RULES, key=lambda rule: (rule.family, rule.source, rule.name)))


def find_rule(event: Event) -> ActionRule | None:
    """The rule for the event's (source, name); by name alone only when the record has no eventSource."""
    name = base_event_name(event.name)
    source = (event.source or "").strip().lower()
    if source:
        return _TABLE.get((source, name))
    candidates = _BY_NAME.get(name, [])
    return candidates[0] if len(candidates) == 1 else None


def resolve_action(event: Event, *, strict: bool = False) -> ActionEffect:
    """Where the event's action edge points, with its facts, extra nodes and structural edges.

    Never raises on odd input: rules read through shape-tolerant helpers, and should one still fail, the
    event falls back to the generic target with ``rule_error`` set and a logged warning. `strict=True`
    re-raises instead (tests use it to prove the rules handle odd shapes themselves).
    """
    name = base_event_name(event.name)
    rule = None if event.is_insight else find_rule(event)
    if rule is None and not event.resources and not event.failed:
        # Most of a trail: a call with no rule, no resources and no error points at its service.
        return _service_effect(event.source)
    ctx = Context.of(event, name)
    if rule is None:
        return _finish(_attempted_resource(ctx, generic_effect(ctx)), Control.NEVER, event)
    try:
        effect = rule.handler(ctx)
    except Exception:
        if strict:
            raise
        log.warning("action rule for %s %s failed on event %s", rule.source, rule.name, event.event_id, exc_info=True)
        fallback = generic_effect(ctx)
        effect = fallback._replace(facts={**fallback.facts, "rule_error": True})
    return _finish(_attempted_resource(ctx, effect), rule.control, event)


@lru_cache(maxsize=1024)
def _service_effect(source: str) -> ActionEffect:
    """The effect of a rule-less call: the called service. Frozen, so one instance serves every such event."""
    name = source or "unknown.amazonaws.com"
    return ActionEffect(target=NodeRef(key=name, kind="Service", name=name), facts={}, traversable=False)


_DENIED_RESOURCE_RE = re.compile(r"on resource: (arn:[^\s\"',]+)")


def _attempted_resource(ctx: Context, effect: ActionEffect) -> ActionEffect:
    """A denied call whose parameters were dropped still names its target in the error message.

    ``User: … is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::…:role/x`` (wildcard
    resources such as ``instance/*`` name nothing in particular and are ignored).
    """
    if not ctx.failed or effect.target.kind != "Service" or not ctx.event.error_message:
        return effect
    match = _DENIED_RESOURCE_RE.search(ctx.event.error_message)
    if match is None or "*" in match.group(1):
        return effect
    node = ctx.arn_node(match.group(1).rstrip("."))
    if node is None:
        return effect
    return effect._replace(target=node, nodes=tuple(other for other in effect.nodes if other.key != node.key))


def generic_effect(ctx: Context) -> ActionEffect:
    """No rule: the first resource ARN (a bucket before its objects), else the service that was called."""
    buckets = []
    first: NodeRef | None = None
    for ref in ctx.event.resources:
        parsed = arns.parse_arn(ref.arn)
        if parsed is None:
            continue
        if parsed.service == "s3" and parsed.resource:
            bucket = ctx.bucket(
                parsed.resource.split("/", 1)[0], account=ref.account if "/" not in parsed.resource else None
            )
            if bucket is not None:
                buckets.append((("/" in parsed.resource), bucket))
            continue
        if first is None:
            first = ctx.arn_node(ref.arn)
    if buckets:
        buckets.sort(key=lambda pair: pair[0])  # a listed bucket before a bucket derived from an object ARN
        return ctx.effect(buckets[0][1])
    return ctx.effect(first)


def _finish(effect: ActionEffect, control: Control, event: Event) -> ActionEffect:
    """Apply the rule's declared control and the failed-call rule (`Context.effect` made the rest JSON-safe)."""
    if control is Control.NEVER:
        traversable = False
    elif control is Control.ALWAYS:
        traversable = True
    else:
        traversable = effect.traversable
    traversable = traversable and not event.failed
    return effect if traversable == effect.traversable else effect._replace(traversable=traversable)
