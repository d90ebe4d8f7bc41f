"""What a hunt reports: a finding is a path of real events, in time order, with what it means.

A finding's id is a hash of the hunt and the events it rests on, so the same case gives the same ids from
run to run and a ticket can cite one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Any


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(member.name.lower() for member in cls)
            raise ValueError(f"unknown severity {text!r}; use one of {names}") from None

    def __str__(self) -> str:
        return self.name.lower()


SEVERITY_NAMES = tuple(str(level) for level in Severity)  # "info" … "critical", for command-line choices


@dataclass(frozen=True, slots=True)
class Technique:
    """An ATT&CK technique, with the id ATT&CK v19 gave it where it was renumbered."""

    id: str
    name: str
    v19: str | None = None

    def ids(self) -> list[str]:
        return [self.id] if not self.v19 or self.v19 == self.id else [self.id, self.v19]


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a path: `src` did `action` to `dst` at `time` (the first of `event_ids`)."""

    src: str
    action: str
    dst: str
    time: str
    event_ids: tuple[str, ...]
    source_ip: str | None = None
    access_key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"src": self.src, "action": self.action, "dst": self.dst, "time": self.time,
                "event_ids": list(self.event_ids), "source_ip": self.source_ip,
                "access_key": self.access_key}  # fmt: skip


@dataclass
class Finding:
    hunt: str  # the hunt that raised it
    category: str  # e.g. persistence:access-key-for-other-user
    title: str
    severity: Severity
    confidence: float  # 0..1: how sure the hunt is that this is what it says
    techniques: list[Technique]
    path: list[Hop]
    narrative: str
    principals: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.path.sort(key=lambda hop: hop.time)
        if not self.path:
            raise ValueError(f"a finding needs at least one hop of evidence ({self.title})")

    @cached_property
    def id(self) -> str:
        """Stable across runs: the hunt, the category and the events. Cached: a finding's path is never changed."""
        events = sorted(event_id for hop in self.path for event_id in hop.event_ids)
        digest = hashlib.sha256("\n".join([self.hunt, self.category, *events]).encode()).hexdigest()
        return f"GT-{digest[:12]}"

    @property
    def first_seen(self) -> str:
        return self.path[0].time

    @property
    def last_seen(self) -> str:
        return self.path[-1].time

    @property
    def event_ids(self) -> list[str]:
        return [event_id for hop in self.path for event_id in hop.event_ids]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hunt": self.hunt,
            "category": self.category,
            "title": self.title,
            "severity": str(self.severity),
            "confidence": round(self.confidence, 2),
            "attack": sorted({i for technique in self.techniques for i in technique.ids()}),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "principals": sorted(self.principals),
            "keys": sorted(self.keys),
            "ips": sorted(self.ips),
            "resources": sorted(self.resources),
            "path": [hop.as_dict() for hop in self.path],
            "narrative": self.narrative,
        }
