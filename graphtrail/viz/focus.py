"""What part of the case a page shows: the incidents (default), one incident, one finding, or a node's surroundings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ViewFocus:
    """At most one of `incident` (1-based number as `graphtrail hunt` lists them, or an `INC-` id), `finding`
    (a `GT-` id) and `around` (a node key: access key, ARN, IP) with `hops` of neighbourhood."""

    incident: int | str | None = None
    finding: str | None = None
    around: str | None = None
    hops: int = 2

    def __post_init__(self) -> None:
        chosen = [name for name in ("incident", "finding", "around") if getattr(self, name) is not None]
        if len(chosen) > 1:
            raise ValueError(f"choose one focus, not {' and '.join(chosen)}")
        if self.hops < 0:
            raise ValueError("hops must be 0 or more")

    def describe(self) -> str:
        if self.incident is not None:
            return f"incident {self.incident}"
        if self.finding is not None:
            return f"finding {self.finding}"
        if self.around is not None:
            return f"{self.hops} hops around {self.around}"
        return "all incidents"
