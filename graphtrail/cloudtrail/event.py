"""Frozen, typed views of a CloudTrail event: the seam between reading and everything after."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from graphtrail import _native


def as_text(value: Any) -> str | None:
    """A CloudTrail value as non-empty text, or None (absent, empty, or a structure where text belongs)."""
    if type(value) is str:
        return value or None
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def text_field(block: Mapping[str, Any], key: str) -> str | None:
    value = block.get(key)
    if type(value) is str:  # as as_text, without a second call for the common cases (~18 fields an event)
        return value or None
    return None if value is None else as_text(value)


# `text_field` for several keys of a dict at once, as a tuple: compiled (`native/src/texts.rs`), because the
# normalizer reads some fifteen fields of every record this way. A test holds it to `as_text`'s answers.
text_fields: Callable[[dict[str, Any], tuple[str, ...]], tuple[str | None, ...]] = _native.texts


def as_flag(value: Any) -> bool | None:
    """CloudTrail booleans come as JSON booleans or as the strings "true"/"false" (mfaAuthenticated, Lake)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


_MISSING = object()
_NO_DATA: dict[str, Any] = {}


class Fields(Mapping[str, Any]):
    """A read-only mapping that finds keys case-insensitively.

    CloudTrail lower-cases only the first letter of API member names (``sSHPublicKey``), and exports
    (Lake, SIEMs) lower-case whole names, so every parameter look-up goes through this. An exact match is
    a plain dict look-up; the folded index is built only on the first miss.
    """

    __slots__ = ("_data", "_folded")

    def __init__(self, data: Mapping[str, Any] | None) -> None:
        if type(data) is not dict:  # parsed JSON is always a dict: skip the slow ABC check for it
            if data is None:
                data = _NO_DATA
            elif isinstance(data, Fields):
                data = data._data
            elif not isinstance(data, Mapping):
                data = _NO_DATA
        self._data: Mapping[str, Any] = data  # type: ignore[assignment]
        self._folded: dict[str, str] | None = None

    def _real_key(self, key: str) -> Any:
        folded = self._folded
        if folded is None:
            folded = self._folded = {str(k).lower(): k for k in self._data}
        return folded.get(key.lower(), _MISSING) if isinstance(key, str) else _MISSING

    def __getitem__(self, key: str) -> Any:
        value = self._data.get(key, _MISSING)
        if value is not _MISSING:
            return value
        real = self._real_key(key)
        if real is _MISSING:
            raise KeyError(key)
        return self._data[real]

    def get(self, key: str, default: Any = None) -> Any:
        value = self._data.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if not self._data:
            return default
        real = self._real_key(key)
        return default if real is _MISSING else self._data[real]

    def __contains__(self, key: object) -> bool:
        if key in self._data:
            return True
        return isinstance(key, str) and bool(self._data) and self._real_key(key) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        return f"Fields({dict(self._data)!r})"

    def sub(self, *path: str) -> Fields:
        """The nested mapping at `path` (each step case-insensitive), or an empty one."""
        node: Any = self
        for step in path:
            if not isinstance(node, Fields):
                node = Fields(node) if isinstance(node, Mapping) else _EMPTY
            node = node.get(step)
            if node is None:
                return _EMPTY
        if isinstance(node, Fields):
            return node
        return Fields(node) if isinstance(node, Mapping) else _EMPTY

    def text(self, *path: str) -> str | None:
        """The string at `path`, or None when absent, empty or not a scalar."""
        return as_text(self.get(path[0]) if len(path) == 1 else self.sub(*path[:-1]).get(path[-1]))

    @property
    def raw(self) -> Mapping[str, Any]:
        return self._data


_EMPTY = Fields(None)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a call, resolved from `userIdentity` into a graph node.

    `kind` is the node kind of the graph contract (Root, User, Session, Role, FederatedUser,
    ExternalIdentity, Service, Account, Unknown) and `key` its node id. `identity_type` keeps
    CloudTrail's own `userIdentity.type` for display and for hunts that care (AWSAccount vs AssumedRole).
    """

    kind: str
    key: str
    identity_type: str
    account: str | None = None
    name: str | None = None
    partition: str = "aws"
    principal_id: str | None = None
    # Sessions: the role (with its path) or user that issued them.
    issuer_arn: str | None = None
    issuer_kind: str | None = None
    session_name: str | None = None
    creation_date: datetime | None = None
    mfa_authenticated: bool | None = None
    source_identity: str | None = None
    ec2_role_delivery: str | None = None
    invoked_by: str | None = None
    in_scope_of: str | None = None  # inScopeOf.credentialsIssuedTo (the Lambda function etc.)
    in_scope_type: str | None = None  # inScopeOf.issuerType (AWS::Lambda::Function, AWS::ECS::Task, ...)
    provider: str | None = None  # SAML / OIDC / Identity Center

    @property
    def is_session(self) -> bool:
        return self.kind in ("Session", "FederatedUser")


class ResourceRef(NamedTuple):
    """An entry of the record's `resources[]` list (a NamedTuple: built for most events)."""

    arn: str
    type: str | None = None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A temporary key handed out by an STS call, without its secret parts.

    `session_key` is the node the key acts as: the assumed-role or federated-user ARN, or the user itself
    for GetSessionToken.
    """

    access_key_id: str | None  # None when responseElements were omitted (over 100 KB) or the call failed
    via: str  # AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken, GetFederationToken
    session_key: str | None
    session_kind: str | None  # Session | FederatedUser | User | Root
    role_arn: str | None
    session_name: str | None
    source_identity: str | None
    expiration: str | None


class Event(NamedTuple):
    """One normalized CloudTrail event (immutable).

    `request`, `response` and `additional` are case-insensitive views of requestParameters,
    responseElements and additionalEventData; only code inside `graphtrail.cloudtrail` reads them.
    A NamedTuple rather than a frozen dataclass: one is built per event, and this builds in half the time.
    """

    event_id: str
    time: datetime  # UTC, aware
    when: str  # the same instant as text (format_time): how the case stores and compares times
    name: str
    source: str  # eventSource, e.g. iam.amazonaws.com
    region: str | None
    account: str | None  # recipientAccountId (the account whose log holds the event)
    principal: Principal
    access_key_id: str | None
    source_ip: str | None  # the first address when sourceIPAddress held several
    source_ips: tuple[str, ...]
    source_service: str | None  # sourceIPAddress when it names an AWS service, not an address
    user_agent: str | None
    error_code: str | None
    error_message: str | None
    read_only: bool | None
    category: str  # Management | Data | Insight | NetworkActivity
    event_type: str | None
    shared_event_id: str | None
    request_id: str | None
    vpc_endpoint_id: str | None
    version: str | None
    resources: tuple[ResourceRef, ...] = ()
    console_session: bool = False  # sessionCredentialFromConsole: the key is a console sign-in's
    issued: IssuedCredential | None = None
    request: Fields = _EMPTY
    response: Fields = _EMPTY
    additional: Fields = _EMPTY
    record_json: bytes = b""  # the whole record, secrets redacted: the evidence the case stores

    @property
    def failed(self) -> bool:
        return self.error_code is not None

    @property
    def is_insight(self) -> bool:
        return self.category == "Insight"
