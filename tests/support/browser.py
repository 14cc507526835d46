"""Headless Chromium (Debian's package) driven by Playwright, for pages we generate.

The browser is the system one, not a download: `make test` installs Debian's chromium
when it is missing. A machine without it fails the test with the reason; it is not skipped.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no Chromium on this machine: `make test` installs Debian's `chromium` "
                "package (apt-get install chromium); the report tests need a real browser")


@dataclass
class Loaded:
    page: object
    errors: list = field(default_factory=list)    # console errors and uncaught exceptions
    requests: list = field(default_factory=list)  # every URL the page asked for


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module: Playwright's sync API keeps an event loop running in
    this thread while it lives, which asyncio.run in later tests would refuse."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"playwright is not installed ({exc}); it is in the dev extra")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser):
    pages = []

    def load(path: Path, width: int = 1400, height: int = 900) -> Loaded:
        page = browser.new_page(viewport={"width": width, "height": height})
        pages.append(page)
        seen = Loaded(page)
        page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: seen.errors.append(str(e)))
        page.on("request", lambda r: seen.requests.append(r.url))
        page.goto(Path(path).resolve().as_uri())
        page.wait_for_selector("#app[data-ready='1']", timeout=20_000)
        return seen

    yield load
    for page in pages:
        page.close()


def screenshot(loaded: Loaded, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / name
    loaded.page.screenshot(path=str(out), full_page=True)
    return out
