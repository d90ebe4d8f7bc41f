"""Find a real record by eventName in tests/data and run it through normalize + the action table."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from graphtrail.cloudtrail.actions import ActionEffect, resolve_action
from graphtrail.cloudtrail.event import Event
from graphtrail.cloudtrail.normalize import normalize_record

DATA = Path(__file__).resolve().parents[1] / "data" / "cloudtrail"
STRATUS = DATA / "stratus-red-team-detonation-logs" / "detonation-logs"
INVICTUS = DATA / "invictus-ir-aws-dataset" / "CloudTrail"
PANTHER = DATA / "panther-analysis" / "rule_tests_cloudtrail.jsonl"
PANTHER_SCENARIOS = DATA / "panther-analysis" / "test_scenarios_records"
AWSDOCS = DATA / "awsdocs-examples"
SIGHTINGS = DATA / "cloudtrail2sightings-stratus-2022" / "extracted"

Record = dict[str, Any]


@cache
def _file_records(path: Path) -> tuple[Record, ...]:
    text = path.read_text()
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        found = [line.get("log", line.get("event", line)) for line in lines]
    else:
        data = json.loads(text)
        found = data.get("Records", []) if isinstance(data, dict) else data
    return tuple(item for item in found if isinstance(item, dict))


def _readable(path: Path) -> bool:
    """Folders hold a few deliberately broken files (bad-input cases for the readers); skip them here."""
    try:
        _file_records(path)
    except (ValueError, AttributeError):
        return False
    return True


def records(source: Path) -> list[Record]:
    """Every record of a file, or of every .json/.jsonl file under a folder."""
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.suffix in (".json", ".jsonl") and "labels" not in p.name)
        paths = [path for path in paths if _readable(path)]
        return [record for path in paths for record in _file_records(path)]
    return list(_file_records(source))


def params(record: Record) -> dict[str, Any]:
    value = record.get("requestParameters")
    return value if isinstance(value, dict) else {}


def record(source: Path, event_name: str, where: Callable[[Record], bool] | None = None) -> Record:
    """A deep copy of the first record named `event_name` (and matching `where`); normalize edits in place."""
    for candidate in records(source):
        if candidate.get("eventName") == event_name and (where is None or where(candidate)):
            return copy.deepcopy(candidate)
    raise LookupError(f"no {event_name} record in {source}")


def resolved(
    source: Path, event_name: str, where: Callable[[Record], bool] | None = None
) -> tuple[Event, ActionEffect]:
    """The normalized event and its effect; strict, so a rule that trips over a shape fails the test."""
    event = normalize_record(record(source, event_name, where))
    return event, resolve_action(event, strict=True)


def effect_of(raw: Record) -> ActionEffect:
    return resolve_action(normalize_record(copy.deepcopy(raw)), strict=True)
