"""Without Chromium the browser test skips on a laptop but fails on CI (no silent green CI)."""

from __future__ import annotations

import pytest

from genre_assets_tests.e2e import browser


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-such-chromium")


def test_missing_chromium_skips_outside_ci(no_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        browser.require_browser()


def test_missing_chromium_fails_when_ci_is_true(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser.require_browser()
