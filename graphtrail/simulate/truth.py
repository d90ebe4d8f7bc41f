"""Ground truth: what each injected scenario did, step by step, with the event ids that prove each step.

A `Story` is written while its scenario plays: every call the scenario makes goes through it, so the
events in the logs and the steps in `ground_truth.json` cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graphtrail.simulate.callers import Caller
from graphtrail.simulate.ids import iso_time
from graphtrail.simulate.records import Timed


@dataclass
class Step:
    actor: str
    action: str
    target: str
    time: int
    account: str
    region: str
    event_ids: list[str]

    def as_dict(self, order: int) -> dict[str, Any]:
        return {
            "order": order,
            "time": iso_time(self.time),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "account": self.account,
            "region": self.region,
            "event_ids": self.event_ids,
        }


@dataclass
class Story:
    """One scenario (an attack, or a benign look-alike) as it is played into the logs."""

    name: str
    kind: str  # "attack" | "decoy"
    title: str
    description: str = ""
    findings: list[str] = field(default_factory=list)  # finding categories a detector should raise
    imitates: str = ""  # decoys: the attack they look like
    steps: list[Step] = field(default_factory=list)
    events: list[Timed] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    principals: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)

    def step(self, caller: Caller, calls: Timed | Iterable[Timed], target: str, action: str | None = None) -> Step:
        """Calls that make one step of the story (several for a burst, or both copies of a cross-account call)."""
        batch = [calls] if isinstance(calls, Timed) else list(calls)
        if not batch:
            raise ValueError(f"{self.name}: a step needs at least one call")
        self.events.extend(batch)
        first = batch[0].record
        step = Step(
            actor=caller.principal,
            action=action or first["eventName"],
            target=target,
            time=min(call.time for call in batch),
            account=first["recipientAccountId"],
            region=first["awsRegion"],
            event_ids=[call.record["eventID"] for call in batch],
        )
        self.steps.append(step)
        if self.kind == "attack":
            self.principals.add(caller.principal)
            if caller.access_key:
                self.keys.add(caller.access_key)
            self.ips.add(caller.ip)
        return step

    def background(self, calls: Timed | Iterable[Timed]) -> None:
        """Calls the scenario causes that are not steps of its own (e.g. AWS answering on its behalf)."""
        self.events.extend([calls] if isinstance(calls, Timed) else calls)

    def attacker_key(self, key: str) -> None:
        """A key the attacker obtained (even one no step has used yet)."""
        self.keys.add(key)

    @property
    def event_ids(self) -> set[str]:
        return {call.record["eventID"] for call in self.events}

    def as_dict(self) -> dict[str, Any]:
        times = [step.time for step in self.steps]
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "description": self.description,
        }
        if self.kind == "attack":
            data["findings"] = self.findings
            data["attacker"] = {
                "keys": sorted(self.keys),
                "principals": sorted(self.principals),
                "ips": sorted(self.ips),
            }
        else:
            data["imitates"] = self.imitates
        data["start"] = iso_time(min(times)) if times else None
        data["end"] = iso_time(max(times)) if times else None
        data["steps"] = [step.as_dict(order) for order, step in enumerate(sorted(self.steps, key=_by_time), 1)]
        return data


def _by_time(step: Step) -> int:
    return step.time
