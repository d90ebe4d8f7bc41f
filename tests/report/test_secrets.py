"""No secret from the input reaches any output: the simulated trail's STS responses carry session tokens, and
one extra record carries a (fake) secret access key and session token; every report format and every export
format is searched for each of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphtrail.case import Case
from graphtrail.export import EXPORT_FORMATS, export_graph
from graphtrail.graph import load_graph
from graphtrail.report import render_csv, render_html, render_json, render_markdown
from graphtrail.viz import render_page
from tests.report.conftest import FAKE_SECRET_KEY, FAKE_SESSION_TOKEN, ReportedCase


@pytest.fixture(scope="module")
def outputs(simulated: ReportedCase, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("outputs")
    report = simulated.report
    with Case(simulated.path) as case:
        page = render_page(case, simulated.hunts)
        graph = load_graph(case)
    written = {
        "report.md": render_markdown(report).encode(),
        "report.json": render_json(report).encode(),
        "timeline.csv": render_csv(report).encode(),
        "index.html": render_html(report, page).encode(),
    }
    for fmt in EXPORT_FORMATS:
        target = folder / f"graph.{fmt}"
        export_graph(graph, fmt, target)
        files = sorted(target.iterdir()) if target.is_dir() else [target]
        for path in files:
            written[str(path.relative_to(folder))] = Path(path).read_bytes()
    return written


def test_the_input_really_holds_secrets(simulated: ReportedCase) -> None:
    assert {FAKE_SECRET_KEY, FAKE_SESSION_TOKEN} <= simulated.secrets
    assert len(simulated.secrets) > 50  # the simulator's STS responses carry a token each


def test_no_output_holds_a_secret_from_the_input(simulated: ReportedCase, outputs: dict[str, bytes]) -> None:
    assert len(outputs) > 10
    leaks = [
        (name, secret[:12])
        for name, data in outputs.items()
        for secret in simulated.secrets
        if secret.encode() in data or secret[:40].encode() in data
    ]
    assert leaks == []


def test_the_record_with_the_secret_is_still_in_the_graph(outputs: dict[str, bytes]) -> None:
    """The secret is gone, not the event: its issued key is a node of the exported graph."""
    assert b"ASIACISMKBQ5REPORTTE" in outputs["graph.json"]
    assert b"ASIACISMKBQ5REPORTTE" in outputs["graph.opengraph"]
