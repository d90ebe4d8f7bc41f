"""The bundled examples: the simulated one is exactly what the simulator makes, and both ingest cleanly."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import orjson

from graphtrail.case import Case
from graphtrail.ingest import ingest_paths
from graphtrail.whois import whois

ROOT = Path(__file__).resolve().parents[1]
NORTHWIND = ROOT / "examples" / "northwind"


def _make_example_module():
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "scripts" / "make_example.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_simulated_example_is_what_the_simulator_makes_now() -> None:
    archive, truth = _make_example_module().build()
    assert (NORTHWIND / "trail.tar.gz").read_bytes() == archive
    assert (NORTHWIND / "ground_truth.json").read_bytes() == truth


def test_simulated_example_ingests_without_rejects_and_shows_its_attack(tmp_path: Path) -> None:
    truth = orjson.loads((NORTHWIND / "ground_truth.json").read_bytes())
    case_path = tmp_path / "example.case"
    summary = ingest_paths([str(NORTHWIND / "trail.tar.gz")], case_path, workers=1)
    assert summary.records_rejected == 0 and not summary.files_rejected
    assert summary.files_skipped["ground-truth"] == 1 and summary.files_skipped["digest"] > 0
    assert summary.events_ingested == truth["summary"]["events"]
    leaked = next(s for s in truth["scenarios"] if s["name"] == "leaked-ci-key")
    backdoor_key = next(step["target"] for step in leaked["steps"] if step["action"] == "CreateAccessKey")
    assert backdoor_key in leaked["attacker"]["keys"]
    with Case(case_path) as case:
        report = whois(case, backdoor_key)
    assert set(report.as_dict()["source_ips"]) & set(leaked["attacker"]["ips"])


def test_readme_and_example_script_follow_a_key_the_ground_truth_names() -> None:
    truth = orjson.loads((NORTHWIND / "ground_truth.json").read_bytes())
    attacker_keys = {key for story in truth["scenarios"] for key in story["attacker"]["keys"]}
    for document in (ROOT / "README.md", ROOT / "scripts" / "example"):
        keys = re.findall(r'graphtrail whois (\S+) --case (?:\S*example\.case|"\$CASE")', document.read_text())
        assert keys and set(keys) <= attacker_keys, document
