"""Shared test helpers: real CloudTrail records from tests/data (copied from public datasets, with licenses)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from graphtrail.ingest import ingest_paths

DATA = Path(__file__).parent / "data" / "cloudtrail"
INVICTUS = DATA / "invictus-ir-aws-dataset" / "CloudTrail"
STRATUS = DATA / "stratus-red-team-detonation-logs" / "detonation-logs"
AWSDOCS = DATA / "awsdocs-examples"
NORTHWIND = Path(__file__).resolve().parents[1] / "examples" / "northwind" / "trail.tar.gz"  # the bundled example


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's Chromium, headless, one for the whole run: two Playwright instances cannot be open at once."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium

    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"), width=1600)
        yield context
        context.close()


@pytest.fixture(scope="session")
def northwind_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example ingested once, for every test that only reads it (views, reports, S3 parity, paths)."""
    path = tmp_path_factory.mktemp("northwind") / "northwind.case"
    ingest_paths([str(NORTHWIND)], path, workers=1)
    return path


def load_records(path: Path) -> list[dict[str, Any]]:
    """Records of a data file in whichever wrapper it has (Records, array, {doc, event} lines)."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [line.get("event", line.get("log", line)) for line in lines]
    data = json.loads(text)
    return data["Records"] if isinstance(data, dict) else data


def invictus_records() -> list[dict[str, Any]]:
    return [record for path in sorted(INVICTUS.glob("*.json")) for record in load_records(path)]


def find(records: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """A deep copy of the first matching record (normalize redacts in place)."""
    for record in records:
        if predicate(record):
            return copy.deepcopy(record)
    raise LookupError("no record matches")


@pytest.fixture(scope="session")
def invictus() -> list[dict[str, Any]]:
    return invictus_records()
