"""The page in Debian's headless Chromium: offline, drawn as scoped, findings highlight their paths, hostile strings
stay text, the time filter replays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphtrail.case import Case
from graphtrail.viz import ViewFocus, build_view, render_page
from graphtrail.viz.page import render_html
from tests.viz.conftest import AGENT_PAYLOAD, SESSION_PAYLOAD, USER_PAYLOAD, StudiedCase
from tests.viz.test_scope import expected_path


def write_page(studied: StudiedCase, out: Path, focus: ViewFocus | None = None) -> tuple[Any, dict[str, Any]]:
    """The page for `studied` at `out`; returns the scope and the model it was made from."""
    with Case(studied.path) as case:
        scope, model = build_view(case, studied.report, focus=focus)
    out.write_text(render_html(model, "test"), encoding="utf-8")
    return scope, model


def test_page_loads_from_file_without_errors_or_network(northwind: StudiedCase, open_page, tmp_path: Path) -> None:
    path = tmp_path / "northwind.html"
    write_page(northwind, path)
    seen = open_page(path)
    assert [m for m in seen.console if m[0] in ("error", "pageerror", "warning")] == []
    assert seen.requests == [path.resolve().as_uri()]


@pytest.mark.parametrize(
    "focus",
    [None, ViewFocus(incident=1), ViewFocus(around="AKIAIZSZ277PIZVA5AUF", hops=2)],
    ids=["incidents", "incident-1", "around-key"],
)
def test_drawn_nodes_and_edges_are_the_scoped_graph(
    northwind: StudiedCase, open_page, tmp_path: Path, focus: ViewFocus | None
) -> None:
    path = tmp_path / "page.html"
    scope, model = write_page(northwind, path, focus)
    seen = open_page(path)
    copies = [n for n in model["nodes"] if n["copy"]]  # services drawn again beside another incident
    assert {n["key"] for n in model["nodes"]} == set(scope.nodes)
    assert all(n["kind"] == "Service" for n in copies)
    assert seen.api("drawn()") == {"nodes": len(scope.nodes) + len(copies), "edges": len(scope.edges)}


@pytest.mark.parametrize("dimming", [True, False], ids=["dims-the-rest", "large-page-without-dimming"])
def test_clicking_a_finding_highlights_exactly_its_path(
    northwind: StudiedCase, open_page, tmp_path: Path, dimming: bool
) -> None:
    path = tmp_path / "northwind.html"
    _, model = write_page(northwind, path)
    if not dimming:  # what a page over the dimming limit does: thick red path and selected nodes only
        model["dim_limit"] = 10
        path.write_text(render_html(model, "test"), encoding="utf-8")
    seen = open_page(path)
    edges = {edge["id"]: (edge["src"], edge["dst"], edge["type"]) for edge in model["edges"]}
    keys = {node["id"]: node["key"] for node in model["nodes"]}
    assert len(model["findings"]) >= 10
    with Case(northwind.path) as case:
        for listed in model["findings"]:
            finding = next(f for f in northwind.report.findings if f.id == listed["id"])
            seen.page.click(f'button.finding[data-finding="{finding.id}"]')
            lit = seen.api("highlighted()")
            want = expected_path(case, finding)
            assert {edges[e] for e in lit["edges"]} == want, finding.title
            assert {keys[n] for n in lit["nodes"]} == {n for edge in want for n in edge[:2]}
            assert seen.page.inner_text("#details h3") == finding.title
    seen.page.click("#reset")
    assert len(seen.api("highlighted()")["edges"]) == len(model["edges"])
    assert len(seen.api("highlighted()")["nodes"]) == len(model["nodes"])


def test_hostile_strings_are_shown_as_text_and_never_run(hostile: StudiedCase, open_page, tmp_path: Path) -> None:
    path = tmp_path / "hostile.html"
    _, model = write_page(hostile, path)
    seen = open_page(path)
    page = seen.page
    hostile_nodes = [n["id"] for n in model["nodes"] if SESSION_PAYLOAD in n["id"] or USER_PAYLOAD in n["id"]]
    assert len(hostile_nodes) >= 2
    for finding in model["findings"]:  # the side panel and each finding's details
        page.click(f'button.finding[data-finding="{finding["id"]}"]')
    for node in hostile_nodes:  # search, details with evidence (user agents), hover tooltip
        page.fill("#search", node)
        page.press("#search", "Enter")
        position = page.evaluate("(id) => window.graphtrail.domPosition(id)", node)
        page.mouse.move(position["x"], position["y"])
        page.wait_for_function("!document.getElementById('tooltip').hidden")
        assert node in page.inner_text("#tooltip")  # the tooltip shows the hostile key as text
    details = page.inner_text("#details")
    assert AGENT_PAYLOAD.strip("\u2028")[:40] in details
    assert "<svg onload" in page.inner_text("#panel") or "<img src=x" in page.inner_text("#panel")
    assert page.evaluate("window.__xss") is None
    assert seen.dialogs == []
    assert page.locator("#panel img, #details img, #details svg, #panel svg, #tooltip img").count() == 0
    assert [m for m in seen.console if m[0] in ("error", "pageerror")] == []


def test_time_filter_shows_only_edges_first_seen_by_then(northwind: StudiedCase, open_page, tmp_path: Path) -> None:
    path = tmp_path / "northwind.html"
    _, model = write_page(northwind, path)
    seen = open_page(path)
    page = seen.page
    for position in ("200", "520", "800"):
        page.eval_on_selector("#time", "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", position)
        until = page.inner_text("#time-label").split(": ", 1)[0]
        want = [e for e in model["edges"] if (e["first"] or "") <= until]
        assert seen.api("drawn()")["edges"] == len(want)
        assert sorted(seen.api("visibleEdges()")) == sorted(e["id"] for e in want)
    page.eval_on_selector("#time", "(el) => { el.value = el.max; el.dispatchEvent(new Event('input')); }")
    assert seen.api("drawn()")["edges"] == len(model["edges"])


def test_a_case_without_incidents_gives_an_empty_page_that_says_so(open_page, tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    with Case(tmp_path / "empty.case", create=True) as case:
        path.write_text(render_page(case), encoding="utf-8")
    seen = open_page(path)
    assert seen.api("drawn()") == {"nodes": 0, "edges": 0}
    assert "No incident in this view" in seen.page.inner_text("#incidents")
    assert [m for m in seen.console if m[0] in ("error", "pageerror")] == []


def test_search_finds_a_key_and_opens_its_evidence(northwind: StudiedCase, open_page, tmp_path: Path) -> None:
    path = tmp_path / "northwind.html"
    _, model = write_page(northwind, path)
    seen = open_page(path)
    seen.page.fill("#search", "45.155.205")
    assert seen.page.inner_text("#matches").startswith("IP: 45.155.205.128")
    seen.page.click("#matches button")
    details = seen.page.inner_text("#details")
    node = next(n for n in model["nodes"] if n["id"] == "45.155.205.128")
    assert node["evidence"] and all(event_id in details for event_id in node["evidence"])


def test_a_capped_page_says_what_was_left_out(northwind: StudiedCase, open_page, tmp_path: Path) -> None:
    path = tmp_path / "capped.html"
    with Case(northwind.path) as case:
        scope, model = build_view(case, northwind.report, max_nodes=8)
    path.write_text(render_html(model, "capped"), encoding="utf-8")
    seen = open_page(path)
    hint = seen.page.locator("#hint")
    assert hint.is_visible()
    assert f"{scope.omitted_count} nodes left out" in hint.inner_text() and "--around" in hint.inner_text()
    assert seen.api("drawn()")["nodes"] == len(model["nodes"]) >= 8
