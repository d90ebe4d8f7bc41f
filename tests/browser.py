"""Debian's Chromium for the browser tests: one place that says how it is launched (headless, a fresh profile,
no background network, never a browser Playwright downloads)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import BrowserContext, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Playwright, profile: Path, *, width: int, height: int = 1000) -> BrowserContext:
    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/setup-chromium"
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_FLAGS,
        headless=True,
        viewport={"width": width, "height": height},
    )
