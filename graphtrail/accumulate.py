"""Aggregate events into nodes and edges, in memory that grows with the graph, not with the events.

One `GraphAccumulator` lives for an ingest run: it is loaded from the case, fed every new (deduplicated)
event, and written back. Every bounded collection keeps the same members whatever order events arrive in,
so a case built in one run equals one built incrementally from the same events.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from graphtrail import arn as arns
from graphtrail.cloudtrail.actions import ActionEffect, NodeRef
from graphtrail.cloudtrail.event import Event, Principal
from graphtrail.cloudtrail.timeparse import format_time
from graphtrail.ipranges import AwsIpRanges
from graphtrail.schema import AUTHENTICATES, FROM_IP, IN_ACCOUNT, MINTED, SESSION_OF, TRAVERSABLE_STRUCTURAL


@lru_cache(maxsize=1)
def shipped_ip_ranges() -> AwsIpRanges:
    """Loaded once per process (and inherited by forked ingest workers)."""
    return AwsIpRanges.load()


SAMPLE_CAP = 50  # distinct IPs, user agents, keys, fact values kept per edge or node
EVENT_SAMPLE = 10  # earliest and latest event ids kept per edge


def _keep_first(bucket: dict[str, str], value: str, when: str, cap: int = SAMPLE_CAP) -> None:
    """Remember `value` with the earliest time it was seen; past `cap`, drop the latest-seen value.

    The kept set depends only on the (value, time) pairs offered, never on their order.
    """
    seen = bucket.get(value)
    if seen is not None:
        if when < seen:
            bucket[value] = when
        return
    if len(bucket) >= cap:
        # A value seen later than all a full bucket holds is turned away without finding which is latest
        # (events come roughly in time order: most values a full bucket is offered are such).
        if when > max(bucket.values()):
            return
        latest = max(bucket.items(), key=_by_time_then_value)
        if (when, value) > (latest[1], latest[0]):
            return
        del bucket[latest[0]]
    bucket[value] = when


def _by_time_then_value(item: tuple[str, str]) -> tuple[str, str]:
    return item[1], item[0]


def _merge_first(into: dict[str, str], other: dict[str, str], cap: int = SAMPLE_CAP) -> None:
    """What `_keep_first` of each of `other`'s values gives: the `cap` values seen earliest, kept at once."""
    # A full bucket turns away a new value seen later than all it holds: `cap` values were seen before it.
    # Most new values a full bucket is offered are such (an edge's keys, when every session has its own).
    full = len(into) >= cap
    latest: str | None = None
    for value, when in other.items():
        seen = into.get(value)
        if seen is None:
            if full:
                if latest is None:
                    latest = max(into.values())
                if when > latest:
                    continue
            into[value] = when
        elif when < seen:
            into[value] = when
    if len(into) > cap:
        # A sort, not heapq.nsmallest: a little over `cap` values, it takes a third of the time.
        kept = sorted(into.items(), key=_by_time_then_value)[:cap]
        into.clear()
        into.update(kept)


class Span(NamedTuple):
    """When, and how many times, something was seen: one event, or a group of alike events (a NamedTuple:
    one is built per event or group)."""

    first: str
    last: str
    count: int = 1


class _Seen:
    """First and last seen, widened by every sighting (a node's and an edge's alike)."""

    __slots__ = ()
    first_seen: str | None
    last_seen: str | None

    def seen(self, when: str | Span) -> None:
        first, last = (when.first, when.last) if isinstance(when, Span) else (when, when)
        if self.first_seen is None or first < self.first_seen:
            self.first_seen = first
        if self.last_seen is None or last > self.last_seen:
            self.last_seen = last

    def widen(self, other: _Seen) -> None:
        """Take in another's span of sightings (merging aggregates built from other events)."""
        for when in (other.first_seen, other.last_seen):
            if when is not None:
                self.seen(when)


def _sample(early: list[tuple[str, str]], late: list[tuple[str, str]], when: str, event_id: str) -> None:
    """Keep the EVENT_SAMPLE earliest and latest (time, event id) pairs offered, each list sorted."""
    item = (when, event_id)
    if item in early or item in late:
        return
    if len(early) < EVENT_SAMPLE or item < early[-1]:
        early.append(item)
        early.sort()
        if len(early) > EVENT_SAMPLE:
            item = early.pop()  # the displaced one may still be among the latest
        else:
            return
    if len(late) < EVENT_SAMPLE or item > late[0]:
        late.append(item)
        late.sort()
        if len(late) > EVENT_SAMPLE:
            late.pop(0)


def _merged_samples(*lists: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What offering every item of `lists` (ids, or samples' early and late lists) to one sample keeps, at once.

    An offered item stays in `early` while it is among the EVENT_SAMPLE smallest offered, and `late` keeps the
    largest of the others; the items a sample dropped could be neither, so the kept ones are all it takes.
    """
    every = sorted({item for items in lists for item in items})
    return every[:EVENT_SAMPLE], every[EVENT_SAMPLE:][-EVENT_SAMPLE:]


@dataclass(slots=True)
class NodeState(_Seen):
    key: str
    kind: str
    account: str | None = None
    name: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    props: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, ...]:
        # Workers send nodes and edges by the thousand: as the constructor's arguments they unpickle in half
        # the time of a dataclass's default state (a third, for an edge).
        return NodeState, _node_fields(self)

    def merge(self, other: NodeState) -> None:
        if self.kind in _VAGUE_KINDS and other.kind not in _VAGUE_KINDS:
            self.kind = other.kind
        self.account = _prefer(self.account, other.account)
        self.name = _prefer(self.name, other.name)
        self.widen(other)
        for name, value in other.props.items():
            mine = self.props.get(name)
            if isinstance(value, dict) and isinstance(mine, dict):
                _merge_first(mine, value)
            elif name in _OR_PROPS:
                self.props[name] = bool(mine) or bool(value)
            elif mine in (None, ""):
                self.props[name] = dict(value) if isinstance(value, dict) else value
            else:
                self.props[name] = _prefer(mine, value)


_VAGUE_KINDS = frozenset({"Unknown", "Resource"})
_OR_PROPS = frozenset({"temporary", "console", "is_aws"})


@dataclass(slots=True)
class EdgeState(_Seen):
    src: str
    type: str
    dst: str
    count: int = 0
    error_count: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    traversable: bool = False
    errors: dict[str, int] = field(default_factory=dict)
    source_ips: dict[str, str] = field(default_factory=dict)
    user_agents: dict[str, str] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)
    access_keys: dict[str, str] = field(default_factory=dict)
    early: list[tuple[str, str]] = field(default_factory=list)
    late: list[tuple[str, str]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, ...]:
        return EdgeState, _edge_fields(self)  # see NodeState.__reduce__

    def sample(self, when: str, event_id: str) -> None:
        _sample(self.early, self.late, when, event_id)

    def sample_all(self, offered: Sequence[tuple[str, str]]) -> None:
        """`sample` each of `offered`; past about three, one sort is faster (4 µs against 1.3 each)."""
        if len(offered) > 3:
            self.early, self.late = _merged_samples(self.early, self.late, offered)
        else:
            for when, event_id in offered:
                _sample(self.early, self.late, when, event_id)

    @property
    def on_paths(self) -> bool:
        """Whether an attack path may cross the edge: an action edge its rule marked (`traversable`), or a
        key's AUTHENTICATES and a principal's MINTED, which always carry control."""
        return self.traversable or self.type in TRAVERSABLE_STRUCTURAL

    @property
    def event_ids(self) -> list[str]:
        early, late = self.early, self.late
        # `sample` keeps each list sorted and every early item before every late one: then no merge is needed
        # (a graph of half a million edges lists them all when it loads).
        if not late or (early and early[-1] < late[0]):
            return [event_id for _, event_id in early] + [event_id for _, event_id in late]
        merged = sorted(set(early) | set(late))
        return [event_id for _, event_id in merged]

    def merge(self, other: EdgeState) -> None:
        """Fold in the aggregate of the same edge built from other events."""
        self.count += other.count
        self.error_count += other.error_count
        self.widen(other)
        self.traversable = self.traversable or other.traversable
        for code, count in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count
        _merge_first(self.source_ips, other.source_ips)
        _merge_first(self.user_agents, other.user_agents)
        _merge_first(self.regions, other.regions)
        _merge_first(self.access_keys, other.access_keys)
        self.sample_all(other.early + other.late)
        for name, value in other.facts.items():
            mine = self.facts.get(name)
            if isinstance(value, bool):
                self.facts[name] = bool(mine) or value
            elif isinstance(value, (int, float)):
                self.facts[name] = _saturated((mine or 0) + value)
            elif isinstance(value, dict):
                if mine is None:
                    self.facts[name] = dict(value)
                elif isinstance(mine, dict):
                    _merge_first(mine, value)

    def add_facts(self, facts: Mapping[str, Any], when: str, times: int = 1) -> None:
        """Fold in one event's facts (`times` alike events' facts): numbers add up, flags OR, values union."""
        for name, value in facts.items():
            if value is None:
                continue
            if isinstance(value, bool):
                self.facts[name] = bool(self.facts.get(name)) or value
            elif isinstance(value, (int, float)):
                self.facts[name] = _saturated(self.facts.get(name, 0) + value * times)
            else:
                bucket = self.facts.setdefault(name, {})
                if not isinstance(bucket, dict):
                    continue
                for item in value if isinstance(value, (tuple, list, set, frozenset)) else (value,):
                    _keep_first(bucket, str(item), when)


_node_fields = operator.attrgetter(*(item.name for item in dataclasses.fields(NodeState)))
_edge_fields = operator.attrgetter(*(item.name for item in dataclasses.fields(EdgeState)))


class GraphAccumulator:
    """Nodes and edges of a case while it is being built."""

    def __init__(self, ip_ranges: AwsIpRanges | None = None) -> None:
        self.nodes: dict[str, NodeState] = {}
        self.edges: dict[tuple[str, str, str], EdgeState] = {}
        self._ip_ranges = ip_ranges or shipped_ip_ranges()
        self._witnessed: dict[tuple[str, str, str], None] = {}  # structural edges of the event being added

    def __getstate__(self) -> dict[str, Any]:
        # Sent between processes without the address table, which every process loads for itself.
        return {"nodes": self.nodes, "edges": self.edges}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.nodes = state["nodes"]
        self.edges = state["edges"]
        self._ip_ranges = shipped_ip_ranges()
        self._witnessed = {}

    def merge(self, other: GraphAccumulator) -> None:
        """Fold in an accumulator built from other events (a file aggregated in a worker process)."""
        for key, node in other.nodes.items():
            mine = self.nodes.get(key)
            if mine is None:
                self.nodes[key] = node
            else:
                mine.merge(node)
        for key, edge in other.edges.items():
            mine_edge = self.edges.get(key)
            if mine_edge is None:
                self.edges[key] = edge
            else:
                mine_edge.merge(edge)

    # -- nodes and edges -------------------------------------------------------------------------
    def node(
        self, key: str, kind: str, when: str | Span, account: str | None = None, name: str | None = None
    ) -> NodeState:
        state = self.nodes.get(key)
        if state is None:
            state = self.nodes[key] = NodeState(key=key, kind=kind, account=account, name=name)
        elif state.kind in _VAGUE_KINDS and kind not in _VAGUE_KINDS:
            state.kind = kind  # a bare reference learned its real kind
        if account and account != state.account:
            state.account = _prefer(state.account, account)
        if name and name != state.name:
            state.name = _prefer(state.name, name)
        state.seen(when)
        return state

    def edge(self, src: str, type_: str, dst: str, when: str | Span) -> EdgeState:
        key = (src, type_, dst)
        state = self.edges.get(key)
        if state is None:
            state = self.edges[key] = EdgeState(src=src, type=type_, dst=dst)
        state.seen(when)
        return state

    def _structural(self, src: str, type_: str, dst: str, span: Span) -> None:
        """Note a structural edge the event shows; applied once per event however many routes name it."""
        self._witnessed[(src, type_, dst)] = None

    def _in_account(self, key: str, account: str | None, span: Span) -> None:
        if account and (arns.is_account_id(account) or account == "anonymous") and key != account:
            self.node(account, "Account", span, account=account, name=account)
            self._structural(key, IN_ACCOUNT, account, span)

    def _ref(self, ref: NodeRef, span: Span) -> NodeState:
        state = self.node(ref.key, ref.kind, span, account=ref.account, name=ref.name)
        if ref.resource_type and "type" not in state.props:
            state.props["type"] = ref.resource_type
        for name, value in ref.props.items():
            if name in _OR_PROPS:
                state.props[name] = bool(state.props.get(name)) or bool(value)
            else:
                _set_once(state.props, name, value)
        self._in_account(ref.key, ref.account, span)
        return state

    # -- events ----------------------------------------------------------------------------------
    def add_event(
        self,
        event: Event,
        effect: ActionEffect,
        span: Span | None = None,
        samples: Sequence[tuple[str, str]] | None = None,
        facts: Iterable[FactsSeen] | None = None,
    ) -> None:
        """Add one event, or `span.count` events alike in all but id, time and facts (see `EventGroups`).

        A group's facts come in `facts`, each distinct set of facts with when it was first seen and how often.
        """
        if span is None:
            span = Span(event.when, event.when)
        self._caller(event, span)
        self._action(event, effect, span, samples, facts)
        self._count_witnessed(span)

    def add_caller(self, event: Event, span: Span) -> tuple[tuple[str, str, str], ...]:
        """What events of one caller (principal, key, addresses, user agent) show about the caller alone.

        `span` covers all of them; their actions then come with `add_action`, given what this returns: the
        structural edges already counted for those events, so that an action naming one again does not
        count it twice.
        """
        self._caller(event, span)
        counted = tuple(self._witnessed)
        self._count_witnessed(span)
        return counted

    def add_action(
        self,
        event: Event,
        effect: ActionEffect,
        span: Span,
        samples: Sequence[tuple[str, str]],
        facts: Iterable[FactsSeen],
        counted: Iterable[tuple[str, str, str]],
    ) -> None:
        """The rest of `add_event` for a group of events whose caller `add_caller` has taken in."""
        self._action(event, effect, span, samples, facts)
        witnessed = self._witnessed
        for link in counted:
            witnessed.pop(link, None)
        self._count_witnessed(span)

    def _caller(self, event: Event, span: Span) -> None:
        """The principal, its key and addresses; the same for every event of one caller."""
        principal = event.principal
        actor = self._principal(principal, span)
        key = event.access_key_id
        if key:
            self._access_key(key, principal, event, span)
        for address in event.source_ips:
            ip = self.node(address, "IP", span, name=address)
            if "is_aws" not in ip.props:
                match = self._ip_ranges.lookup(address)
                ip.props["is_aws"] = match is not None
                if match is not None:
                    ip.props["aws_service"] = match.service
                    ip.props["aws_region"] = match.region
                elif ipaddress.ip_address(address).is_private:
                    ip.props["private"] = True  # a VPC, VPN or NAT address: neither AWS's nor the internet's
            self._structural(actor.key, FROM_IP, address, span)
            if key:
                self._structural(key, FROM_IP, address, span)

    def _action(
        self,
        event: Event,
        effect: ActionEffect,
        span: Span,
        samples: Sequence[tuple[str, str]] | None,
        facts: Iterable[FactsSeen] | None,
    ) -> None:
        """The action edge, its target and the other nodes and structural edges the action names."""
        first = span.first
        key = event.access_key_id
        target = self._ref(effect.target, span)
        edge = self.edge(event.principal.key, event.name, target.key, span)
        edge.count += span.count
        if event.error_code:
            edge.error_count += span.count
            edge.errors[event.error_code] = edge.errors.get(event.error_code, 0) + span.count
        elif effect.traversable:
            edge.traversable = True
        for address in event.source_ips:
            _keep_first(edge.source_ips, address, first)
        if event.source_service and not event.source_ips:
            _keep_first(edge.source_ips, event.source_service, first)
        if event.user_agent:
            _keep_first(edge.user_agents, event.user_agent, first)
        if event.region:
            _keep_first(edge.regions, event.region, first)
        if key:
            _keep_first(edge.access_keys, key, first)
        if samples is None:
            edge.sample(event.when, event.event_id)
        else:
            edge.sample_all(samples)
        if facts is None:
            if effect.facts:
                edge.add_facts(effect.facts, first, span.count)
        else:
            for seen in facts:
                edge.add_facts(seen.facts, seen.first, seen.count)

        for ref in effect.nodes:
            self._ref(ref, span)
        for link in effect.structural:
            if link.type == MINTED:
                continue  # MINTED comes from credential lineage over the whole case, which sees every copy
            if link.src in self.nodes and link.dst in self.nodes:
                self._structural(link.src, link.type, link.dst, span)

        issued = event.issued
        if issued is not None and issued.access_key_id:
            self._issued_key(event, span)

    def _count_witnessed(self, span: Span) -> None:
        # An STS call's rule and its issued credential both name the key's AUTHENTICATES edge, a role both
        # as a target and as a session's role: count each structural edge once for this event.
        for src, type_, dst in self._witnessed:
            self.edge(src, type_, dst, span).count += span.count
        self._witnessed.clear()

    def _principal(self, principal: Principal, span: Span) -> NodeState:
        state = self.node(principal.key, principal.kind, span, account=principal.account, name=principal.name)
        props = state.props
        if principal.kind == "Session":
            if principal.issuer_arn:
                _set_once(props, "role", principal.issuer_arn)
                self._session_of_role(principal.key, principal.issuer_arn, span)
            _set_once(props, "session_name", principal.session_name)
            _set_once(props, "source_identity", principal.source_identity)
            if principal.ec2_role_delivery:
                _set_once(props, "ec2_role_delivery", principal.ec2_role_delivery)
                if principal.session_name and principal.session_name.startswith("i-"):
                    _set_once(props, "instance_id", principal.session_name)
            _set_once(props, "workload", principal.in_scope_of)
        elif principal.kind == "FederatedUser" and principal.issuer_arn:
            _set_once(props, "issuer", principal.issuer_arn)
            issuer_kind = principal.issuer_kind or "User"
            self.node(
                principal.issuer_arn,
                issuer_kind,
                span,
                account=_account_of(principal.issuer_arn),
                name=_name_of(principal.issuer_arn),
            )
            self._structural(principal.key, SESSION_OF, principal.issuer_arn, span)
        elif principal.kind == "ExternalIdentity":
            _set_once(props, "provider", principal.provider)
        _set_once(props, "identity_type", principal.identity_type)
        self._in_account(principal.key, principal.account, span)
        return state

    def _session_of_role(self, session: str, role_arn: str, span: Span) -> None:
        role = self.node(role_arn, "Role", span, account=_account_of(role_arn), name=_name_of(role_arn))
        self._in_account(role.key, role.account, span)
        self._structural(session, SESSION_OF, role_arn, span)

    def _access_key(self, key: str, principal: Principal, event: Event, span: Span) -> None:
        temporary = arns.is_temporary_key(key)
        account = principal.account if principal.kind != "Account" else None
        state = self.node(key, "AccessKey", span, account=account or arns.account_of_access_key(key), name=key)
        props = state.props
        props["temporary"] = temporary
        if principal.kind != "Account":
            _set_once(props, "owner", principal.key)
            if temporary:
                if principal.is_session:
                    _set_once(props, "role", principal.issuer_arn)
                    _set_once(props, "session_name", principal.session_name)
                if principal.creation_date is not None:
                    _set_once(props, "session_created", _format_cached(principal.creation_date))
                _set_once(props, "ec2_role_delivery", principal.ec2_role_delivery)
                _set_once(props, "workload", principal.in_scope_of)
                _set_once(props, "workload_type", principal.in_scope_type)
            if event.console_session:
                props["console"] = True
            self._structural(key, AUTHENTICATES, principal.key, span)
        if event.user_agent:
            _keep_first(props.setdefault("user_agents", {}), event.user_agent, span.first)
        for address in event.source_ips:
            _keep_first(props.setdefault("source_ips", {}), address, span.first)

    def _issued_key(self, event: Event, span: Span) -> None:
        issued = event.issued
        assert issued is not None and issued.access_key_id
        key = self.node(issued.access_key_id, "AccessKey", span, name=issued.access_key_id)
        key.props["temporary"] = True
        if issued.session_key:
            _set_once(key.props, "owner", issued.session_key)
            kind = issued.session_kind or "Session"
            session = self.node(issued.session_key, kind, span, account=_account_of(issued.session_key))
            if kind == "Session":
                names = arns.role_name_of_session(issued.session_key)
                if names:
                    _set_once(session.props, "session_name", names[1])
                if issued.role_arn:
                    _set_once(session.props, "role", issued.role_arn)
                    self._session_of_role(issued.session_key, issued.role_arn, span)
            self._in_account(session.key, session.account, span)
            self._structural(issued.access_key_id, AUTHENTICATES, issued.session_key, span)
        key.account = key.account or _account_of(issued.session_key) or event.account

    # -- canonical keys --------------------------------------------------------------------------
    def canonicalize_iam_paths(self) -> dict[str, str]:
        """Fold users and roles that were named without their path into the node that has it.

        Events that name a user or role only by name (``AttachUserPolicy {userName}``) give an ARN with the
        default path, while identities carry the real one (``role/aws-reserved/sso.amazonaws.com/…``). IAM
        names are unique within an account whatever the path, so when exactly one other ARN with the same
        account and name is known, both are the same principal. Returns {old key: canonical key}.
        """
        by_name: dict[tuple[str, str, str, str], list[str]] = {}
        for key, node in self.nodes.items():
            if node.kind not in ("User", "Role"):
                continue
            parsed = arns.parse_arn(key)
            if parsed is None or parsed.service != "iam":
                continue
            by_name.setdefault(
                (parsed.partition, parsed.account, parsed.resource_type, parsed.resource_name), []
            ).append(key)
        renames: dict[str, str] = {}
        for (_, _, resource_type, name), keys in by_name.items():
            if len(keys) != 2:
                continue
            plain = [key for key in keys if key.endswith(f":{resource_type}/{name}")]
            pathful = [key for key in keys if key not in plain]
            if len(plain) == 1 and len(pathful) == 1:
                renames[plain[0]] = pathful[0]
        if renames:
            self._rename(renames)
        return renames

    def _rename(self, renames: dict[str, str]) -> None:
        for old, new in renames.items():
            node = self.nodes.pop(old)
            node.key = new
            self.nodes[new].merge(node)
        edges = self.edges
        self.edges = {}
        for (src, type_, dst), edge in edges.items():
            src = renames.get(src, src)
            dst = renames.get(dst, dst)
            if src == dst and type_ == IN_ACCOUNT:
                continue
            edge.src, edge.dst = src, dst
            mine = self.edges.get((src, type_, dst))
            if mine is None:
                self.edges[(src, type_, dst)] = edge
            else:
                mine.merge(edge)
        for node in self.nodes.values():
            for name in ("owner", "role", "issuer"):
                value = node.props.get(name)
                if isinstance(value, str) and value in renames:
                    node.props[name] = renames[value]

    # -- persistence -----------------------------------------------------------------------------
    def iter_nodes(self) -> Iterator[NodeState]:
        return iter(self.nodes.values())

    def iter_edges(self) -> Iterator[EdgeState]:
        return iter(self.edges.values())

    def load(self, nodes: Iterable[NodeState], edges: Iterable[EdgeState]) -> None:
        for node in nodes:
            self.nodes[node.key] = node
        for edge in edges:
            self.edges[(edge.src, edge.type, edge.dst)] = edge


class EventGroups:
    """Events that differ only in id, time and facts, collected so the graph is updated once per group.

    Most of a trail is the same caller making the same call to the same target from the same place again
    and again (Describe*, Decrypt, GetObject). Adding such a group at once gives exactly the graph that
    adding its events one by one would: everything the graph takes from an event but its id, time and facts
    is part of the group's identity, and the group keeps each distinct set of facts with its first time and
    count (numbers among the facts are multiplied by that count). Facts stay out of the identity because
    they are what varies (the object of a GetObject, the context of a Decrypt): with them in it, a group
    held 3 events on average on the 1M-event simulated corpus; without, 46. Events that issue a key are
    added one by one.
    """

    def __init__(self, graph: GraphAccumulator) -> None:
        self.graph = graph
        self._groups: dict[tuple[Any, ...], _Group] = {}

    def add(self, event: Event, effect: ActionEffect) -> None:
        key = group_key(event, effect)
        try:
            group = None if key is None else self._groups.get(key.group)
        except TypeError:  # a value that cannot be hashed: nothing to group it with
            key = None
        if key is None:
            self.graph.add_event(event, effect)
        else:
            self._join(group, key, event, effect, event.when, event.event_id)

    def add_keyed(self, key: GroupKey, event: Event, effect: ActionEffect, when: str, event_id: str) -> None:
        """Add an event whose group is known: a recurring record's copy (`graphtrail.recurring`) comes with
        the record it copies (`event`, `effect` and their hashable `key`) and its own time and id."""
        self._join(self._groups.get(key.group), key, event, effect, when, event_id)

    def _join(
        self, group: _Group | None, key: GroupKey, event: Event, effect: ActionEffect, when: str, event_id: str
    ) -> None:
        if group is None:
            group = self._groups[key.group] = _Group(event, effect, when)
        group.add(when, event_id)
        seen = group.facts.get(key.facts)
        if seen is None:
            group.facts[key.facts] = FactsSeen(effect.facts, when, 1)
        else:
            seen.add(when)

    def flush(self) -> None:
        # Groups of one caller differ in their action only: the caller's part is added once for all of them
        # (on the simulated 1M-event corpus, a batch's groups have a quarter as many callers).
        by_caller: dict[tuple[Any, ...], list[_Group]] = {}
        for group in self._groups.values():
            event = group.event
            caller = (id(event.principal), event.access_key_id, event.source_ips, event.user_agent,
                      event.console_session)  # fmt: skip
            by_caller.setdefault(caller, []).append(group)
        graph = self.graph
        for groups in by_caller.values():
            if len(groups) == 1:
                group = groups[0]
                graph.add_event(group.event, group.effect, group.span(), group.samples(), group.facts.values())
                continue
            spans = [group.span() for group in groups]
            caller_span = Span(min(span.first for span in spans), max(span.last for span in spans),
                               sum(span.count for span in spans))  # fmt: skip
            counted = graph.add_caller(groups[0].event, caller_span)
            for group, span in zip(groups, spans, strict=True):
                graph.add_action(group.event, group.effect, span, group.samples(), group.facts.values(), counted)
        self._groups.clear()


class GroupKey(NamedTuple):
    """Which group an event joins (`group`), and which of the group's distinct sets of facts it brings."""

    group: tuple[Any, ...]
    facts: tuple[Any, ...]


def group_key(event: Event, effect: ActionEffect) -> GroupKey | None:
    """The event's group in `EventGroups`, or None for an event added on its own: one that issues a key, or
    whose facts cannot be hashed. (The group itself is hashed when it is looked up; see `EventGroups.add`.)"""
    if event.issued is not None:
        return None  # every issued key is a node of its own
    try:
        facts = tuple(sorted(effect.facts.items())) if effect.facts else ()
        hash(facts)
    except TypeError:
        return None
    group = (
        id(event.principal), event.name, event.access_key_id, event.source_ips, event.source_service,
        event.user_agent, event.region, event.error_code, event.console_session, effect.traversable,
        _node_key(effect.target), tuple(map(_node_key, effect.nodes)) if effect.nodes else (), effect.structural,
    )  # fmt: skip
    return GroupKey(group, facts)


def _node_key(node: NodeRef) -> tuple[Any, ...]:
    """The node as a hashable value: a NodeRef is a tuple, but its props are a dict."""
    if not node.props:
        return node[:5]  # key, kind, account, name, resource_type
    return (*node[:5], tuple(sorted(node.props.items())))


@dataclass(slots=True)
class FactsSeen:
    """One distinct set of an action's facts within a group of events: first seen when, and how often."""

    facts: Mapping[str, Any]
    first: str
    count: int

    def add(self, when: str) -> None:
        self.count += 1
        if when < self.first:
            self.first = when


class _Group:
    __slots__ = ("count", "effect", "event", "facts", "first", "last", "offered")

    def __init__(self, event: Event, effect: ActionEffect, when: str) -> None:
        self.event = event  # keeps the principal alive, so its id() in the group key stays unique
        self.effect = effect
        self.count = 0
        self.first = self.last = when
        # (time, event id) of the events, sampled as an edge samples them when the group is flushed: one
        # sort of a group's ids takes a tenth of the time offering them one by one did.
        self.offered: list[tuple[str, str]] = []
        self.facts: dict[tuple[Any, ...], FactsSeen] = {}

    def add(self, when: str, event_id: str) -> None:
        self.count += 1
        if when < self.first:
            self.first = when
        elif when > self.last:
            self.last = when
        offered = self.offered
        offered.append((when, event_id))
        if len(offered) >= _OFFERED_CAP:
            offered[:] = self.samples()

    def span(self) -> Span:
        return Span(self.first, self.last, self.count)

    def samples(self) -> list[tuple[str, str]]:
        """What `_sample` keeps of the group's events: the earliest, then the latest, sorted."""
        early, late = _merged_samples(self.offered)
        return early + late


_OFFERED_CAP = 8 * EVENT_SAMPLE  # a group of many events keeps its sample and the ids offered since


_FACT_LIMIT = 2**62  # sums stop here rather than overflow the 64-bit integers JSON and SQLite hold


def _saturated(number: float) -> float:
    return max(-_FACT_LIMIT, min(_FACT_LIMIT, number))


@lru_cache(maxsize=1 << 14)
def _format_cached(moment: datetime) -> str:
    return format_time(moment)


def _set_once(props: dict[str, Any], name: str, value: Any) -> None:
    """Facts of a node that should not change (a key's owner, a session's role): keep one value.

    Should two events disagree, the smaller value is kept, so the case never depends on reading order.
    """
    if value in (None, ""):
        return
    props[name] = _prefer(props.get(name), value)


def _prefer(current: Any, offered: Any) -> Any:
    if current in (None, ""):
        return offered
    if offered in (None, "") or type(current) is not type(offered) or isinstance(current, (dict, list)):
        return current
    return min(current, offered)


def _account_of(arn_text: str | None) -> str | None:
    parsed = arns.parse_arn(arn_text)
    return parsed.account if parsed is not None and parsed.account else None


def _name_of(arn_text: str | None) -> str | None:
    parsed = arns.parse_arn(arn_text)
    return parsed.resource_name if parsed is not None else None
