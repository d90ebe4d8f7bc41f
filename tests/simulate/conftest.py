"""Shared set-up for simulator tests: one organisation and span, scenarios played in it, and a way to ingest
simulated records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from graphtrail.case import Case
from graphtrail.ingest import IngestSummary, ingest_paths
from graphtrail.simulate.org import Organization, build_organization
from graphtrail.simulate.records import Timed
from graphtrail.simulate.scenarios import ScenarioSpec, all_scenarios, play
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World

SPAN_START = 1_793_577_600  # 2026-11-02T00:00:00Z, a Monday
DAY = 86_400
START = SPAN_START + DAY + 14 * 3600 + 1234  # day two, mid-hour: an instance's hourly session was issued before it
SPECS = {spec.name: spec for spec in all_scenarios()}


@pytest.fixture(scope="session")
def org() -> Organization:
    return build_organization(seed=7, accounts=5)


@pytest.fixture
def world(org: Organization) -> World:
    return World.create(7, org, SPAN_START, SPAN_START + 3 * DAY)


def start_of(spec: ScenarioSpec) -> int:
    """When tests play a scenario: day two at its preferred hour (a decoy's actor is at work), else START."""
    return START if spec.start_hour is None else SPAN_START + DAY + spec.start_hour * 3600


def played(world: World, name: str, start: int | None = None) -> Story:
    """The scenario called `name`, played on `world` from `start` (by default its `start_of`)."""
    spec = SPECS[name]
    return play(spec, world, start_of(spec) if start is None else start)


def records(story: Story, name: str | None = None) -> list[dict[str, Any]]:
    """The story's records (only those of event `name`, if given), in the order the scenario wrote them."""
    return [call.record for call in story.events if name is None or call.record["eventName"] == name]


def ingest_calls(calls: list[Timed], tmp_path: Path) -> tuple[Path, IngestSummary]:
    """Write the calls as one trail file and ingest it into a fresh case; returns the case path and summary."""
    log = tmp_path / "trail.json"
    log.write_bytes(orjson.dumps({"Records": [call.record for call in calls]}))
    case_path = tmp_path / "sim.case"
    summary = ingest_paths([str(log)], case_path, workers=1)
    return case_path, summary


def open_case(path: Path) -> Case:
    return Case(path)
