"""Shared set-up for simulator tests: one organisation and span, and a way to ingest simulated records."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from graphtrail.case import Case
from graphtrail.ingest import IngestSummary, ingest_paths
from graphtrail.simulate.org import Organization, build_organization
from graphtrail.simulate.records import Timed
from graphtrail.simulate.world import World

SPAN_START = 1_793_577_600  # 2026-11-02T00:00:00Z, a Monday
DAY = 86_400


@pytest.fixture(scope="session")
def org() -> Organization:
    return build_organization(seed=7, accounts=5)


@pytest.fixture
def world(org: Organization) -> World:
    return World.create(7, org, SPAN_START, SPAN_START + 3 * DAY)


def ingest_calls(calls: list[Timed], tmp_path: Path) -> tuple[Path, IngestSummary]:
    """Write the calls as one trail file and ingest it into a fresh case; returns the case path and summary."""
    log = tmp_path / "trail.json"
    log.write_bytes(orjson.dumps({"Records": [call.record for call in calls]}))
    case_path = tmp_path / "sim.case"
    summary = ingest_paths([str(log)], case_path, workers=1)
    return case_path, summary


def open_case(path: Path) -> Case:
    return Case(path)
