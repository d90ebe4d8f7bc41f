"""Cases the hunt tests run on, and helpers to ask about the findings.

A simulated organisation with every attack and decoy and the Invictus IR data set are ingested once per test
session; small cases are made from real records (Panther's rule tests, Stratus detonations) per test. The
helpers ask "did this hunt find that scenario's steps?" and "did it flag that decoy?"."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from graphtrail.case import Case
from graphtrail.findings import Finding, Severity
from graphtrail.hunts import select_hunts
from graphtrail.hunts.config import HuntConfig
from graphtrail.hunts.context import HuntContext
from graphtrail.ingest import ingest_paths
from graphtrail.simulate import SimulationConfig, simulate
from tests.conftest import DATA, INVICTUS

PANTHER_TESTS = DATA / "panther-analysis" / "rule_tests_cloudtrail.jsonl"
PANTHER_SCENARIOS = DATA / "panther-analysis" / "test_scenarios_records"


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


@pytest.fixture(scope="session")
def invictus_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Invictus IR data set (real Stratus Red Team detonations in one account), ingested once."""
    return real_case(tmp_path_factory.mktemp("invictus"), [INVICTUS], "invictus")


# -- cases of real records ---------------------------------------------------------------------------------


def real_case(tmp_path: Path, paths: list[Path], name: str = "real") -> Path:
    """A case ingested from trail files or directories as they are."""
    case_path = tmp_path / f"{name}.case"
    ingest_paths([str(path) for path in paths], case_path, workers=1)
    return case_path


def records_case(
    tmp_path: Path, records: list[dict[str, Any]], name: str = "records", *, fresh_ids: bool = False
) -> Path:
    """A case holding exactly `records` (one trail file, ingested). With `fresh_ids` each record gets its own
    eventID first (1, 2, 3… as UUIDs): records re-timed or repeated from one original would share it."""
    if fresh_ids:
        for number, record in enumerate(records):
            record["eventID"] = str(uuid.UUID(int=number + 1))
    trail = tmp_path / f"{name}.json"
    trail.write_text(json.dumps({"Records": records}))
    return real_case(tmp_path, [trail], name)


def panther_record(rule_id: str, test_name: str) -> dict[str, Any]:
    """The CloudTrail record of one of Panther's labelled rule tests (a deep copy, free to edit)."""
    for line in PANTHER_TESTS.read_text().splitlines():
        test = json.loads(line)
        if test["rule_id"] == rule_id and test["test_name"] == test_name:
            return copy.deepcopy(test["log"])
    raise LookupError(f"{rule_id} / {test_name}")


# -- running hunts and reading their findings --------------------------------------------------------------


def run(context: HuntContext, hunt: str) -> list[Finding]:
    (spec,) = select_hunts([hunt])
    return list(spec.run(context))


def run_on(case_path: Path, hunt: str, config: HuntConfig | None = None) -> list[Finding]:
    """A hunt over a case on disk, in a context of its own."""
    with Case(case_path) as case:
        return run(HuntContext(case, config), hunt)


def attack_events(simulated: SimulatedCase) -> set[str]:
    """Event ids of every attack scenario's steps (decoys left out)."""
    return {e for story in simulated.truth["scenarios"] for e in simulated.step_events(story["name"])}


def steps(simulated: SimulatedCase, scenario: str, orders: set[int]) -> set[str]:
    """Event ids of a scenario's steps with these orders (1 = its first step)."""
    return {e for step in simulated.story(scenario)["steps"] if step["order"] in orders for e in step["event_ids"]}


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
