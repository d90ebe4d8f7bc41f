"""Cases and a real headless Chromium (Debian's, installed by scripts/setup-chromium) for the browser view's tests.

The hostile case is the bundled northwind example with the attackers' session name, user name and user agents
replaced by markup that would run if the page ever put a log string into the DOM as HTML.
"""

from __future__ import annotations

import gzip
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from graphtrail.case import Case
from graphtrail.hunts import HuntReport, hunt_report
from graphtrail.hunts.context import HuntContext
from graphtrail.ingest import ingest_paths
from tests.conftest import NORTHWIND

# Each sets window.__xss and calls alert() if it ever runs. No "/" in the ones that end up inside an ARN.
SESSION_PAYLOAD = "i-<img src=x onerror=window.__xss=1;alert(1)>"
USER_PAYLOAD = "svc-<svg onload=window.__xss=2;alert(2)>"
AGENT_PAYLOAD = "</script><script>window.__xss=3;alert(3)</script><img src=x onerror=window.__xss=4;alert(4)>\u2028"
HOSTILE = {
    "i-cf106a80921f0b47d": SESSION_PAYLOAD,
    "svc-h9zfcb": USER_PAYLOAD,
}
ATTACKER_IPS = {"91.240.118.16", "185.220.101.212", "45.155.205.128"}


@dataclass
class StudiedCase:
    path: Path
    report: HuntReport


def _studied(path: Path) -> StudiedCase:
    with Case(path) as case:
        return StudiedCase(path, hunt_report(HuntContext(case)))


@pytest.fixture(scope="session")
def northwind(northwind_case: Path) -> StudiedCase:
    return _studied(northwind_case)


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> StudiedCase:
    root = tmp_path_factory.mktemp("hostile")
    trail = root / "trail"
    trail.mkdir()
    with tarfile.open(NORTHWIND) as archive:
        for i, member in enumerate(m for m in archive.getmembers() if m.name.endswith(".json.gz")):
            data = archive.extractfile(member)
            assert data is not None
            document = json.loads(gzip.decompress(data.read()))
            if "Records" not in document:
                continue  # a digest file
            document["Records"] = [_poison(record) for record in document["Records"]]
            (trail / f"{i:05d}.json").write_text(json.dumps(document))
    path = root / "hostile.case"
    ingest_paths([str(trail)], path, workers=1)
    return _studied(path)


def _poison(record: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(record)
    for plain, payload in HOSTILE.items():
        text = text.replace(plain, json.dumps(payload)[1:-1])
    poisoned = json.loads(text)
    if poisoned.get("sourceIPAddress") in ATTACKER_IPS:
        poisoned["userAgent"] = AGENT_PAYLOAD
    return poisoned


@dataclass
class OpenPage:
    page: Page
    console: list[tuple[str, str]]  # (type, text), page errors as type "pageerror"
    requests: list[str]
    dialogs: list[str]

    def api(self, expression: str) -> Any:
        return self.page.evaluate(f"window.graphtrail.{expression}")


@pytest.fixture
def open_page(browser: BrowserContext) -> Iterator[Any]:
    """open_page(path) loads a written page from file:// and waits until it says it is ready."""
    opened: list[Page] = []

    def load(path: Path) -> OpenPage:
        page = browser.new_page()
        opened.append(page)
        seen = OpenPage(page, [], [], [])
        page.on("console", lambda message: seen.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: seen.console.append(("pageerror", str(error))))
        page.on("request", lambda request: seen.requests.append(request.url))

        def on_dialog(dialog: Any) -> None:
            seen.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(path.resolve().as_uri())
        page.wait_for_function("window.graphtrail && window.graphtrail.ready === true", timeout=60_000)
        return seen

    yield load
    for page in opened:
        page.close()
