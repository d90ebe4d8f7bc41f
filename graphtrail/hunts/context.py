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
import orjson

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
        self._places: dict[str, str] = {}  # address -> inside | private | outside
        self._endpoints: dict[tuple[str, str | None, bool], bool] = {}  # (address, key, by key) -> via endpoint
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
        event = normalize_record(self.case.record(row))
        return HuntEvent(row, event, resolve_action(event))

    def rows(self, where: str, params: tuple[Any, ...] = ()) -> Iterator[EventRow]:
        return self.case.events(where, params)

    # -- outside: the one definition every hunt uses -----------------------------------------------------------

    def is_outside(self, ip: str | None, *, via_vpc_endpoint: bool = False) -> bool:
        """An address outside AWS and outside the organisation's trusted networks.

        A service name (ec2.amazonaws.com, AWS Internal) is AWS acting. A private address (`is_private_address`)
        is outside unless the call came through a VPC endpoint: CloudTrail records a private source address only
        for calls through an endpoint (which it marks with vpcEndpointId), so a private address without one did
        not come from inside a VPC. Without `via_vpc_endpoint` a private address counts as outside: the cautious
        answer when only the address is known.
        """
        if not ip:
            return False
        place = self._places.get(ip)
        if place is None:
            place = self._places[ip] = self._place(ip)
        return place == "outside" or (place == "private" and not via_vpc_endpoint)

    def is_outside_use(self, ip: str | None, access_key: str | None) -> bool:
        """`is_outside` for the calls made with `access_key` (None: without a key) from `ip`.

        Whether a private address came through a VPC endpoint is only in the record, and reading records is
        costly (a workload's S3 traffic through a gateway endpoint can be millions of calls), so it is read
        once per key and address: from the first such call in the case.
        """
        if not self.is_outside(ip):
            return False
        assert ip is not None
        return self.is_outside(ip, via_vpc_endpoint=self._through_endpoint(ip, access_key, by_key=True))

    def is_outside_call(self, row: EventRow) -> bool:
        """`is_outside` for a stored call (its VPC endpoint read as `is_outside_use` says)."""
        return self.is_outside_use(row.source_ip, row.access_key)

    def is_outside_address(self, ip: str | None) -> bool:
        """`is_outside` for an address counted without its calls (SQL aggregates): a private address is judged
        by the first call in the case from it, whatever the key."""
        if not self.is_outside(ip):
            return False
        assert ip is not None
        return self.is_outside(ip, via_vpc_endpoint=self._through_endpoint(ip, None, by_key=False))

    def outside_addresses(self, rows: Iterable[EventRow]) -> set[str]:
        """The addresses of these calls that are outside (`is_outside_call`)."""
        return {row.source_ip for row in rows if row.source_ip and self.is_outside_call(row)}

    def _place(self, ip: str) -> str:
        """'inside' (AWS, a service name, a trusted network), 'private' (`is_private_address`) or 'outside'."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return "inside"  # a service name (ec2.amazonaws.com, AWS Internal) is AWS acting
        if self.ip_ranges.is_aws(ip) or any(address in network for network in self.config.trusted_networks):
            return "inside"
        return "private" if is_private_address(ip) else "outside"

    def _through_endpoint(self, ip: str, access_key: str | None, *, by_key: bool) -> bool:
        """Whether the first call from `ip` (with `access_key`, if `by_key`) came through a VPC endpoint."""
        if self._places.get(ip) != "private":
            return False  # only a private address needs its record read
        cached = (ip, access_key, by_key)
        if cached not in self._endpoints:
            where, values = "source_ip = ?", [ip]
            if by_key:
                where += " AND access_key IS ?"
                values.append(access_key)
            sql = f"SELECT file_id, line FROM events WHERE {where} ORDER BY time, event_id LIMIT 1"
            cases = [self.case] + ([self.baseline_case] if self.baseline_case is not None else [])
            found = next(((case, row) for case in cases if (row := case.db.execute(sql, values).fetchone())), None)
            record = orjson.loads(found[0].record_json(*found[1])) if found else None
            self._endpoints[cached] = record is not None and bool(normalize_record(record).vpc_endpoint_id)
        return self._endpoints[cached]

    # -- facts about entities ------------------------------------------------------------------------------

    def is_automation(self, principal: str | None) -> bool:
        return bool(principal) and any(principal.endswith(p) or principal == p for p in self.config.automation)

    def chain(self, key: str) -> list[KeyLineage]:
        return chain_of(key, self.lineage)

    @cached_property
    def baseline_addresses(self) -> dict[str, frozenset[str]]:
        """Principal -> the addresses it called from before the baseline ended (or in the baseline case); an
        empty set when it called, but from no address.

        One pass over the baseline's (principal, address) pairs answers every later question about anyone:
        asking per principal would walk a busy workload role's every event each time.
        """
        source = self.baseline_case or self.case
        sql, values = "SELECT DISTINCT actor, source_ip FROM events", ()
        if self.baseline_case is None:
            sql, values = sql + " WHERE time < ?", (self.baseline_end,)
        found: dict[str, set[str]] = {}
        for actor, ip in source.db.execute(sql, values):
            known = found.setdefault(actor, set())
            if ip:
                known.add(ip)
        return {actor: frozenset(ips) for actor, ips in found.items()}

    def baseline_ips(self, principal: str) -> frozenset[str]:
        """Addresses `principal` called from in the baseline."""
        return self.baseline_addresses.get(principal, frozenset())

    @cached_property
    def organisation_addresses(self) -> frozenset[str]:
        """Every address anyone called from in the baseline; empty when the case has no baseline."""
        return frozenset().union(*self.baseline_addresses.values())

    def key_uses(self, key: str, *, after: str | None = None) -> list[EventRow]:
        where, values = "access_key=?", [key]
        if after:
            where += " AND time >= ?"
            values.append(after)
        return list(self.case.events(where, tuple(values)))


# Networks a VPC, an office LAN or a VPN hands out: an address in one names no place on the internet.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
                 "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128")
)  # fmt: skip


def is_private_address(ip: str | None) -> bool:
    """RFC 1918 and the like (CGNAT, loopback, link-local, unique local): what a VPC or a LAN uses. Documentation
    and reserved ranges are not: in shared logs they stand in for public addresses."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(address in network for network in PRIVATE_NETWORKS)


def seconds_between(start: str, end: str) -> float:
    return (parse_time(end) - parse_time(start)).total_seconds()


def hour_of(time: str) -> int:
    return parse_time(time).hour
