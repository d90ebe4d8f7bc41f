"""What a hunt reads: the case's events (with each event's action effect re-derived from its stored record),
the graph, the key lineage, the configuration, and the baseline that "new" and "unusual" are measured against.

Effects are re-derived with the same `normalize_record` and `resolve_action` that built the graph, so a hunt
reads a CloudTrail field through the one place that interprets it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx

from graphtrail.case import Case, EventRow
from graphtrail.cloudtrail.actions import resolve_action
from graphtrail.cloudtrail.actions.model import ActionEffect
from graphtrail.cloudtrail.event import Event
from graphtrail.cloudtrail.normalize import normalize_record
from graphtrail.cloudtrail.timeparse import format_time, parse_time
from graphtrail.findings import Hop
from graphtrail.graph import load_graph
from graphtrail.hunts.config import HuntConfig
from graphtrail.ipranges import AwsIpRanges
from graphtrail.lineage import KeyLineage, chain_of


@dataclass(frozen=True, slots=True)
class HuntEvent:
    """A stored event with its normalized form and action effect (facts), for the few events hunts inspect."""

    row: EventRow
    event: Event
    effect: ActionEffect

    @property
    def id(self) -> str:
        return self.row.event_id

    @property
    def time(self) -> str:
        return self.row.time

    @property
    def failed(self) -> bool:
        return bool(self.row.error_code)

    @property
    def facts(self) -> Any:
        return self.effect.facts

    @property
    def target(self) -> str:
        return self.effect.target.key

    def hop(self, action: str | None = None, dst: str | None = None) -> Hop:
        return Hop(self.row.actor, action or self.row.name, dst or self.target, self.row.time, (self.id,),
                   self.row.source_ip, self.row.access_key)  # fmt: skip


class HuntContext:
    def __init__(self, case: Case, config: HuntConfig | None = None, baseline: Case | None = None) -> None:
        self.case = case
        self.config = config or HuntConfig()
        self.baseline_case = baseline
        case.ensure_indexes()  # a case written by an older graphtrail may lack an index the hunts rely on

    # -- what the case holds -----------------------------------------------------------------------------

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        return load_graph(self.case)

    @cached_property
    def lineage(self) -> dict[str, KeyLineage]:
        return self.case.lineage()

    @cached_property
    def ip_ranges(self) -> AwsIpRanges:
        return AwsIpRanges.load()

    @cached_property
    def span(self) -> tuple[str, str]:
        first, last = self.case.db.execute("SELECT min(time), max(time) FROM events").fetchone()
        return first or "", last or ""

    @cached_property
    def own_accounts(self) -> set[str]:
        """The organisation's accounts: configured, else every account whose trail is in the case."""
        if self.config.own_accounts:
            return set(self.config.own_accounts)
        rows = self.case.db.execute("SELECT DISTINCT account FROM events WHERE account IS NOT NULL")
        return {account for (account,) in rows}

    @cached_property
    def baseline_end(self) -> str:
        """Events before this time are the baseline "new" and "unusual" are measured against."""
        if self.baseline_case is not None:
            return self.span[0]
        first, last = self.span
        if not first:
            return ""
        start, end = parse_time(first), parse_time(last)
        return format_time(start + (end - start) * self.config.baseline_fraction)

    def events(
        self, names: Iterable[str] | None = None, *, where: str = "", params: tuple[Any, ...] = ()
    ) -> Iterator[HuntEvent]:
        """Events by name (and a fixed SQL condition), in time order, with their effects."""
        clauses: list[str] = []
        values: list[Any] = []
        if names is not None:
            names = sorted(set(names))
            clauses.append(f"name IN ({','.join('?' * len(names))})")
            values.extend(names)
        if where:
            clauses.append(f"({where})")
            values.extend(params)  # bound after the names, in the order the clauses appear
        for row in self.case.events(" AND ".join(clauses), values):
            yield self.inspect(row)

    def inspect(self, row: EventRow) -> HuntEvent:
        event = normalize_record(row.record())
        return HuntEvent(row, event, resolve_action(event))

    def rows(self, where: str, params: tuple[Any, ...] = ()) -> Iterator[EventRow]:
        return self.case.events(where, params)

    # -- facts about entities ------------------------------------------------------------------------------

    def is_aws_address(self, ip: str | None) -> bool:
        if not ip:
            return False
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return True  # a service name (ec2.amazonaws.com, AWS Internal) is AWS acting
        return self.ip_ranges.is_aws(ip)

    def is_trusted_address(self, ip: str | None) -> bool:
        """Corporate networks from the configuration."""
        if not ip:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.config.trusted_networks)

    def is_automation(self, principal: str | None) -> bool:
        return bool(principal) and any(principal.endswith(p) or principal == p for p in self.config.automation)

    def chain(self, key: str) -> list[KeyLineage]:
        return chain_of(key, self.lineage)

    def baseline_ips(self, principal: str) -> set[str]:
        """Addresses `principal` called from before the baseline ended (or in the baseline case)."""
        source = self.baseline_case or self.case
        end = None if self.baseline_case is not None else self.baseline_end
        sql = "SELECT DISTINCT source_ip FROM events WHERE actor=? AND source_ip IS NOT NULL"
        values: tuple[Any, ...] = (principal,)
        if end is not None:
            sql += " AND time < ?"
            values = (principal, end)
        return {ip for (ip,) in source.db.execute(sql, values)}

    def key_uses(self, key: str, *, after: str | None = None) -> list[EventRow]:
        where, values = "access_key=?", [key]
        if after:
            where += " AND time >= ?"
            values.append(after)
        return list(self.case.events(where, tuple(values)))

    def principal_events(self, principal: str, *, after: str | None = None) -> list[EventRow]:
        where, values = "actor=?", [principal]
        if after:
            where += " AND time >= ?"
            values.append(after)
        return list(self.case.events(where, tuple(values)))


def seconds_between(start: str, end: str) -> float:
    return (parse_time(end) - parse_time(start)).total_seconds()


def hour_of(time: str) -> int:
    return parse_time(time).hour
