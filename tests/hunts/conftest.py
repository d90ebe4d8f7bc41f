"""A simulated organisation with every attack and decoy, ingested once per test session, and helpers to ask
"did this hunt find that scenario's steps?" and "did it flag that decoy?"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from graphtrail.case import Case
from graphtrail.findings import Finding, Severity
from graphtrail.hunts import select_hunts
from graphtrail.hunts.context import HuntContext
from graphtrail.ingest import ingest_paths
from graphtrail.simulate import SimulationConfig, simulate


@dataclass
class SimulatedCase:
    path: Path
    truth: dict[str, Any]

    def story(self, name: str) -> dict[str, Any]:
        return next(s for s in self.truth["scenarios"] + self.truth["decoys"] if s["name"] == name)

    def step_events(self, name: str, action: str | None = None) -> set[str]:
        """Event ids of a scenario's steps (of one action, if given)."""
        steps = self.story(name)["steps"]
        return {e for step in steps if action is None or step["action"] == action for e in step["event_ids"]}


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> SimulatedCase:
    root = tmp_path_factory.mktemp("hunts")
    out = root / "trail"
    simulate(SimulationConfig(out=out, seed=2, days=3, events=30_000))
    case_path = root / "sim.case"
    ingest_paths([str(out)], case_path, workers=1)
    return SimulatedCase(case_path, orjson.loads((out / "ground_truth.json").read_bytes()))


@pytest.fixture
def context(simulated: SimulatedCase) -> Iterator[HuntContext]:
    with Case(simulated.path) as case:
        yield HuntContext(case)


def run(context: HuntContext, hunt: str) -> list[Finding]:
    (spec,) = select_hunts([hunt])
    return list(spec.run(context))


def covering(findings: list[Finding], event_ids: set[str]) -> list[Finding]:
    """Findings whose evidence includes any of `event_ids`."""
    return [f for f in findings if event_ids & set(f.event_ids)]


def flagged_decoys(
    findings: list[Finding], simulated: SimulatedCase, at_least: Severity = Severity.MEDIUM
) -> list[str]:
    """Decoys that a finding at or above `at_least` rests on."""
    names = []
    for decoy in simulated.truth["decoys"]:
        events = simulated.step_events(decoy["name"])
        if any(f.severity >= at_least for f in covering(findings, events)):
            names.append(decoy["name"])
    return names
