"""What every scenario must do, whatever it plays: stay inside its window, ingest without a reject, cite only its
own events as truth, and play the same records for the same seed. What makes each scenario the attack or decoy
it is stays with its module's tests."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from graphtrail.cloudtrail.normalize import normalize_record
from graphtrail.simulate.engine import BASELINE_DECOYS
from graphtrail.simulate.org import Organization
from graphtrail.simulate.scenarios import ScenarioSpec, all_scenarios, play, recurring
from graphtrail.simulate.world import World
from tests.simulate.conftest import DAY, SPAN_START, ingest_calls, open_case, records, start_of

# recurring.py's decoys are written by the baseline; their own `play` must write nothing.
PLAYED_BY_BASELINE = recurring.SCENARIOS
PLAYED = [spec for spec in all_scenarios() if spec not in PLAYED_BY_BASELINE]
each_played = pytest.mark.parametrize("spec", PLAYED, ids=lambda spec: spec.name)


def test_scenario_names_are_unique() -> None:
    names = [spec.name for spec in all_scenarios()]
    assert len(set(names)) == len(names)


@each_played
def test_scenario_plays_within_its_window(world: World, spec: ScenarioSpec) -> None:
    start = start_of(spec)
    story = play(spec, world, start)
    assert story.steps and story.events
    assert all(start <= call.time <= start + spec.hours * 3600 for call in story.events)


@each_played
def test_scenario_records_normalize_and_ingest_without_rejects(
    world: World, spec: ScenarioSpec, tmp_path: Path
) -> None:
    story = play(spec, world, start_of(spec))
    for record in records(story):
        assert normalize_record(copy.deepcopy(record)).event_id == record["eventID"]
    case_path, summary = ingest_calls(story.events, tmp_path)
    assert not summary.any_rejects, summary.problems
    assert summary.events_ingested == len(story.events)
    assert open_case(case_path).scalar("SELECT count(*) FROM events") == len(story.events)


@each_played
def test_scenario_steps_name_targets_and_cite_events_of_the_story(world: World, spec: ScenarioSpec) -> None:
    story = play(spec, world, start_of(spec))
    assert story.steps
    for step in story.steps:
        assert step.event_ids and step.target
        assert set(step.event_ids) <= story.event_ids
    assert len(story.event_ids) == len(story.events)  # no event id is minted twice


@each_played
def test_scenario_is_the_same_for_the_same_seed(org: Organization, spec: ScenarioSpec) -> None:
    first, again = (
        play(spec, World.create(7, org, SPAN_START, SPAN_START + 3 * DAY), start_of(spec)) for _ in range(2)
    )
    assert [(call.time, call.record) for call in first.events] == [(call.time, call.record) for call in again.events]
    assert first.as_dict() == again.as_dict()


@pytest.mark.parametrize("spec", PLAYED_BY_BASELINE, ids=lambda spec: spec.name)
def test_scenario_the_baseline_plays_writes_nothing_itself(world: World, spec: ScenarioSpec) -> None:
    assert spec.name in BASELINE_DECOYS  # so the engine hands its story to the baseline instead of playing it
    story = play(spec, world, start_of(spec))
    assert not story.events and not story.steps
