"""Debian's Chromium driven by Playwright for Python (no Playwright-downloaded browser).

Without Chromium the browser test skips, except on CI (CI=true), where `make test` installs it
first and a missing browser is a failure: CI must never pass by silently skipping the UI test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from genre_assets_tests.support.requirements import unavailable

CHROMIUM = Path("/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# On localhost the UI opens a "join the community" modal over the page unless this is set.
HIDE_COMMUNITY_MODAL = "window.localStorage.setItem('communityNux', JSON.stringify('1'));"


def browser_unavailable() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return (
            f"Chromium not found at {CHROMIUM} "
            "(apt-get install chromium; `make test` does it when CI=true)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def require_browser() -> Path:
    """The Chromium executable; skips the test when missing, but fails it when CI=true."""
    reason = browser_unavailable()
    if reason is None:
        return CHROMIUM
    unavailable("the browser test", reason)


@contextlib.contextmanager
def chromium_page(executable: Path, default_timeout_ms: int = 30_000) -> Iterator[object]:
    """A page in a fresh headless Chromium; the browser and its driver are always closed."""
    from playwright.sync_api import expect, sync_playwright

    # expect() waits 5 s by default; the UI's first page load on a busy 2-core machine can take
    # longer, so assertions wait as long as actions do.
    expect.set_options(timeout=default_timeout_ms)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_init_script(HIDE_COMMUNITY_MODAL)
            context.set_default_timeout(default_timeout_ms)
            yield context.new_page()
        finally:
            browser.close()
