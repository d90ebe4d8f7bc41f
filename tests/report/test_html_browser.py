"""The HTML report in a real headless Chromium (Debian's): the embedded graph view comes up inside the page,
nothing is fetched, and log strings made of markup never run."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext

from graphtrail.case import Case
from graphtrail.report import render_html
from graphtrail.viz import render_page
from tests.report.conftest import ReportedCase

PAYLOAD = "<img src=x onerror=window.__xss=1;alert(1)></script><script>window.__xss=2;alert(2)</script>"


def _open(browser: BrowserContext, path: Path) -> tuple[Any, dict[str, list[str]]]:
    page = browser.new_page()
    seen: dict[str, list[str]] = {"requests": [], "dialogs": [], "errors": []}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.resolve().as_uri())
    return page, seen


def _wait_until_ready(frame: Any, seconds: float = 60) -> None:
    """Poll with plain evaluations: wait_for_function compiles its predicate in the page, which the view's
    Content-Security-Policy (no 'unsafe-eval') refuses once the first try is not already true."""
    deadline = time.monotonic() + seconds
    while not frame.evaluate("Boolean(window.graphtrail && window.graphtrail.ready === true)"):
        assert time.monotonic() < deadline, "the graph view never said it was ready"
        time.sleep(0.2)


def _hostile(northwind: ReportedCase) -> Any:
    first = northwind.report.incidents[0]
    hop = dataclasses.replace(first.path[0], actor=PAYLOAD, action=PAYLOAD)
    incident = dataclasses.replace(first, title=PAYLOAD, summary=PAYLOAD, path=(hop, *first.path[1:]))
    event = dataclasses.replace(northwind.report.events[0], user_agent=PAYLOAD, actor=PAYLOAD)
    return dataclasses.replace(northwind.report, incidents=(incident, *northwind.report.incidents[1:]),
                               events=(event, *northwind.report.events[1:]))  # fmt: skip


def test_the_report_page_shows_the_graph_view_and_fetches_nothing(
    browser: BrowserContext, northwind: ReportedCase, tmp_path: Path
) -> None:
    with Case(northwind.path) as case:
        graph_page = render_page(case, northwind.hunts)
    target = tmp_path / "index.html"
    target.write_text(render_html(_hostile(northwind), graph_page))
    page, seen = _open(browser, target)
    try:
        frame = page.frame_locator("iframe.graph")
        page.locator("iframe.graph").scroll_into_view_if_needed()  # a frame off screen may never lay out
        inner = next(f for f in page.frames if f != page.main_frame)
        _wait_until_ready(inner)
        assert frame.locator("body").is_visible()
        assert page.locator("section.incident").count() == len(northwind.report.incidents)
        assert page.locator("div.timeline tr").count() == len(northwind.report.events) + 1
        assert PAYLOAD in page.locator("section.incident h2").first.inner_text()  # shown as text
        assert page.evaluate("window.__xss") is None
        assert seen["dialogs"] == [] and seen["errors"] == []
        assert [url for url in seen["requests"] if not url.startswith(("file:", "about:", "data:"))] == []
    finally:
        page.close()
