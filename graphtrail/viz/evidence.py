"""The events a page shows as evidence: a bounded number per node, read by event id from the case.

Only the stored columns are shown (time, action, actor, key, address, user agent, error, target), never the raw
record: the page is shared with others, and a record may hold fields nobody meant to pass around.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graphtrail.case import Case, EventRow

_BATCH = 500  # SQLite's default limit on parameters is far above this


@dataclass(frozen=True, slots=True)
class EvidenceEvent:
    event_id: str
    time: str
    name: str
    actor: str
    access_key: str | None
    source_ip: str | None
    user_agent: str | None
    error_code: str | None
    target: str | None
    region: str | None
    account: str | None

    @classmethod
    def from_row(cls, row: EventRow) -> EvidenceEvent:
        return cls(row.event_id, row.time, row.name, row.actor, row.access_key, row.source_ip, row.user_agent,
                   row.error_code, row.target or row.source, row.region, row.account)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.event_id, "time": self.time, "name": self.name, "actor": self.actor,
                "key": self.access_key, "ip": self.source_ip, "agent": self.user_agent, "error": self.error_code,
                "target": self.target, "region": self.region, "account": self.account}  # fmt: skip


def read_events(case: Case, event_ids: Iterable[str]) -> dict[str, EventRow]:
    """The stored events with these ids (ids the case does not hold are left out)."""
    wanted = sorted(set(event_ids))
    found: dict[str, EventRow] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        where = f"event_id IN ({','.join('?' * len(batch))})"
        for row in case.events(where, batch):
            found[row.event_id] = row
    return found


def edge_target(row: EventRow) -> str:
    """The node an event's action edge points at: its target, or the service for calls without one."""
    return row.target or row.source
