"""IAM / resource policy documents as logged: just enough reading to say who is trusted and whether it is admin.

Documents arrive as JSON strings (IAM requests), objects (S3 ``bucketPolicy``), or URL-encoded JSON strings
(``CreateRole`` responses). `Statement`, `Action`, `Resource` and the principal lists may each be one value
or a list. Anything unreadable summarises to "nothing found", never to an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from graphtrail.cloudtrail.actions.context import account_in, items, strings
from graphtrail.cloudtrail.event import Fields

# AWS managed policies that hand over the account (or the power to take it).
ADMIN_POLICY_NAMES = frozenset({"AdministratorAccess", "IAMFullAccess"})
_ADMIN_ACTIONS = frozenset({"*", "*:*", "iam:*"})
_MAX_DOCUMENT = 200_000  # characters; CloudTrail omits parameters above 100 KB anyway


@dataclass(frozen=True, slots=True)
class PolicySummary:
    """What a policy document grants, reduced to facts the hunts use."""

    admin: bool = False  # an Allow of */iam:* on Resource *
    actions: tuple[str, ...] = ()  # actions allowed (in order of appearance)
    principals: tuple[str, ...] = ()  # every principal named in an Allow statement ("*" included)
    accounts: tuple[str, ...] = ()  # accounts those principals belong to
    wildcard_principal: bool = False  # an Allow to "*" / {"AWS": "*"} / NotPrincipal
    public: bool = False  # …with no Condition narrowing it
    readable: bool = False  # a document was found and parsed


def load_policy(value: Any) -> Mapping[str, Any] | None:
    """The document as a mapping, from an object, a JSON string or a URL-encoded JSON string."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or len(value) > _MAX_DOCUMENT:
        return None
    text = value.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, Mapping) else None


def statements(document: Mapping[str, Any] | None) -> list[Fields]:
    if document is None:
        return []
    return items(Fields(document).get("Statement"))


def is_admin_policy_arn(policy_arn: str | None) -> bool:
    """AWS managed AdministratorAccess / IAMFullAccess (the account field of AWS managed policies is ``aws``)."""
    if not policy_arn or not policy_arn.startswith("arn:"):
        return False
    parts = policy_arn.split(":", 5)
    if len(parts) != 6 or parts[4] != "aws":
        return False
    return parts[5].rsplit("/", 1)[-1] in ADMIN_POLICY_NAMES


def summarize_policy(value: Any) -> PolicySummary:
    """Summarise a policy document given in any of the logged forms."""
    document = load_policy(value)
    if document is None:
        return PolicySummary()
    admin = wildcard = public = False
    actions: dict[str, None] = {}
    principals: dict[str, None] = {}
    accounts: dict[str, None] = {}
    for statement in statements(document):
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        allowed = strings(statement.get("Action"))
        actions.update(dict.fromkeys(allowed))
        resources = strings(statement.get("Resource"))
        if "*" in resources and any(action.lower() in _ADMIN_ACTIONS for action in allowed):
            admin = True
        named, everyone = _principals(statement)
        for principal in named:
            principals[principal] = None
            account = account_in(principal)
            if account:
                accounts[account] = None
        if everyone:
            wildcard = True
            principals["*"] = None
            if not statement.get("Condition"):
                public = True
    return PolicySummary(
        admin=admin,
        actions=tuple(actions),
        principals=tuple(principals),
        accounts=tuple(accounts),
        wildcard_principal=wildcard,
        public=public,
        readable=True,
    )


def _principals(statement: Fields) -> tuple[list[str], bool]:
    """Named principals of one statement, and whether it lets everyone in."""
    if "NotPrincipal" in statement:
        return [], True  # Allow + NotPrincipal: everyone except a few
    principal = statement.get("Principal")
    if principal is None:
        return [], False
    if isinstance(principal, str):
        return ([], True) if principal.strip() == "*" else ([principal], False)
    named: list[str] = []
    everyone = False
    for value in _principal_values(principal):
        if value == "*":
            everyone = True
        else:
            named.append(value)
    return named, everyone


def _principal_values(principal: Any) -> Iterator[str]:
    if isinstance(principal, Mapping):
        for value in principal.values():
            yield from strings(value)
    else:
        yield from strings(principal)
