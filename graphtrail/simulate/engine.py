"""Runs a simulation: the organisation's baseline hour by hour, the scenarios merged in, the budget met.

Streaming: one hour of scheduled calls and one 5-minute slice of routine calls are in memory at a time, plus
the records whose delivery window is still open; nothing grows with the event count. The routine calls of
each slice are as many as bring the running total to the budget's share for the time so far (shares follow
the activity curve), so the total lands on the budget unless scheduled activity alone exceeds it.
"""

from __future__ import annotations

import shutil
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from graphtrail import __version__
from graphtrail.errors import GraphtrailError
from graphtrail.simulate.baseline import Baseline, cumulative_weights
from graphtrail.simulate.ids import iso_time
from graphtrail.simulate.org import CORPORATE_CIDR, Organization, build_organization
from graphtrail.simulate.records import Timed
from graphtrail.simulate.scenarios import ScenarioSpec, all_scenarios, play
from graphtrail.simulate.truth import Story
from graphtrail.simulate.world import World
from graphtrail.simulate.writer import WINDOW, TrailWriter
from graphtrail.sources.shapes import GROUND_TRUTH_TOOL

HOUR = 3600
DAY = 86400
SLICES_PER_HOUR = HOUR // WINDOW
BASELINE_DECOYS = ("ci-role-chain", "nightly-etl")  # look-alikes the baseline itself plays
DEFAULT_START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class SimulationConfig:
    out: Path
    seed: int = 1
    accounts: int = 5
    days: int = 7
    events: int = 100_000
    scenarios: Sequence[str] | None = None  # names; None plays every attack and decoy
    start: datetime = DEFAULT_START
    duplicate_rate: float = 0.0005
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class SimulationProgress:
    hours_done: int
    hours_total: int
    events: int


@dataclass
class SimulationSummary:
    out: Path
    seed: int
    budget: int
    events: int
    duplicates: int
    files: int
    digests: int
    bytes_written: int
    seconds: float
    attacks: list[str] = field(default_factory=list)
    decoys: list[str] = field(default_factory=list)
    scheduled_over_budget: bool = False

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "seed": self.seed,
            "budget": self.budget,
            "events": self.events,
            "duplicates": self.duplicates,
            "files": self.files,
            "digests": self.digests,
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second),
            "attacks": self.attacks,
            "decoys": self.decoys,
            "ground_truth": str(self.out / "ground_truth.json"),
            "scheduled_over_budget": self.scheduled_over_budget,
        }


def scenario_names() -> list[str]:
    return [spec.name for spec in all_scenarios()]


def simulate(
    config: SimulationConfig, progress: Callable[[SimulationProgress], None] | None = None
) -> SimulationSummary:
    """Write the trail and `ground_truth.json` into `config.out`."""
    started = clock.monotonic()
    specs = _select(config.scenarios)
    _prepare(config.out, overwrite=config.overwrite)
    try:
        org = build_organization(config.seed, config.accounts)
    except ValueError as exc:
        raise GraphtrailError(str(exc)) from None
    if config.days < 1:
        raise GraphtrailError("--days must be at least 1")
    span_start = int(config.start.timestamp()) // DAY * DAY
    span_end = span_start + config.days * DAY
    world = World.create(config.seed, org, span_start, span_end)

    stories = [
        _place_and_play(spec, world, index, span_start, span_end)
        for index, spec in enumerate(specs)
        if spec.name not in BASELINE_DECOYS
    ]
    baseline_decoys = {spec.name: spec.story() for spec in specs if spec.name in BASELINE_DECOYS}
    baseline = Baseline(world.fork("baseline"), decoys=dict(baseline_decoys))
    injected = sorted((call for story in stories for call in story.events), key=lambda call: call.time)
    if injected and (injected[0].time < span_start or injected[-1].time >= span_end):
        raise GraphtrailError("a scenario fell outside the simulated span; use more --days")

    writer = TrailWriter(config.out, org, world.fork("delivery").rng, duplicate_rate=config.duplicate_rate)
    routine_world = world.fork("routine")
    rng = routine_world.rng
    hours = list(range(span_start, span_end, HOUR))
    weights = [baseline.weight(hour) for hour in hours]
    total_weight = sum(weights) or 1.0
    produced = 0
    cumulative = 0.0
    next_injected = 0
    for done, hour in enumerate(hours):
        calls: list[Timed] = baseline.scheduled(hour)
        while next_injected < len(injected) and injected[next_injected].time < hour + HOUR:
            calls.append(injected[next_injected])
            next_injected += 1
        for call in calls:
            writer.add(call)
        produced += len(calls)
        active = baseline.active(hour)
        cumulative_weight = cumulative_weights(active)
        for piece in range(SLICES_PER_HOUR):
            slice_start = hour + piece * WINDOW
            cumulative += weights[done] / SLICES_PER_HOUR
            wanted = round(config.events * cumulative / total_weight) - produced
            for _ in range(max(0, wanted)):
                t = slice_start + rng.randrange(WINDOW)
                writer.add(baseline.routine(routine_world, rng, t, active, cumulative_weight))
                produced += 1
            writer.flush(slice_start + WINDOW)
        if progress is not None:
            progress(SimulationProgress(done + 1, len(hours), produced))
    writer.close(span_end)

    for name, story in baseline_decoys.items():
        if not story.steps:
            raise GraphtrailError(f"the span has no {name}; use more --days (it runs on working days)")
    summary = SimulationSummary(
        out=config.out,
        seed=config.seed,
        budget=config.events,
        events=writer.totals.events,
        duplicates=writer.totals.duplicates,
        files=writer.totals.files,
        digests=writer.totals.digests,
        bytes_written=writer.totals.bytes,
        seconds=clock.monotonic() - started,
        attacks=[s.name for s in specs if s.kind == "attack"],
        decoys=[s.name for s in specs if s.kind == "decoy"],
        scheduled_over_budget=produced > config.events * 1.02,
    )
    all_stories = stories + list(baseline_decoys.values())
    _write_ground_truth(config, org, summary, span_start, span_end, all_stories)
    return summary


def _select(names: Sequence[str] | None) -> list[ScenarioSpec]:
    specs = all_scenarios()
    if names is None:
        return specs
    known = {spec.name: spec for spec in specs}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise GraphtrailError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(known)}")
    return [spec for spec in specs if spec.name in set(names)]


def _prepare(out: Path, *, overwrite: bool) -> None:
    """Refuse to mix two simulations in one folder, or to write into a folder holding anything else."""
    if out.exists() and not out.is_dir():
        raise GraphtrailError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        ours = (out / "ground_truth.json").exists()
        if not (ours and overwrite):
            hint = " (add --overwrite to replace it)" if ours else ""
            raise GraphtrailError(f"{out} is not empty{hint}")
        shutil.rmtree(out / "AWSLogs", ignore_errors=True)
        (out / "ground_truth.json").unlink()
    out.mkdir(parents=True, exist_ok=True)


def _place_and_play(spec: ScenarioSpec, world: World, index: int, span_start: int, span_end: int) -> Story:
    """Start the scenario on its own day (spread over the span), at its preferred hour, inside the span."""
    rng = world.fork(f"placement:{spec.name}").rng
    days = (span_end - span_start) // DAY
    length = int(spec.hours * HOUR) + 600
    if length > span_end - span_start:
        raise GraphtrailError(f"scenario {spec.name} runs {spec.hours} h; use more --days")
    day = days - 1 if spec.name == "defense-evasion" else (index * 3 + 1) % days  # evasion ends the story
    hour = spec.start_hour if spec.start_hour is not None else rng.randint(0, 23)
    start = span_start + day * DAY + hour * HOUR + rng.randint(0, 1800)
    start = max(span_start + 600, min(start, span_end - length))
    return play(spec, world, start)


def _write_ground_truth(
    config: SimulationConfig, org: Organization, summary: SimulationSummary, start: int, end: int, stories: list[Story]
) -> None:
    truth = {
        "generator": {
            "tool": GROUND_TRUTH_TOOL,
            "version": __version__,
            "seed": config.seed,
            "accounts": config.accounts,
            "days": config.days,
            "events_budget": config.events,
            "start": iso_time(start),
            "end": iso_time(end),
        },
        "organization": {
            "id": org.org_id,
            "accounts": {a.name: a.id for a in org.accounts},
            "external_accounts": org.external_accounts,
            "corporate_cidr": CORPORATE_CIDR,
        },
        "summary": {
            k: v
            for k, v in summary.as_dict().items()
            if k not in ("out", "ground_truth", "seconds", "events_per_second")
        },
        "scenarios": [s.as_dict() for s in stories if s.kind == "attack"],
        "decoys": [s.as_dict() for s in stories if s.kind == "decoy"],
    }
    (config.out / "ground_truth.json").write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2) + b"\n")
