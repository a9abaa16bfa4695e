"""Tests that need something the machine may lack (Java, Chromium, PostgreSQL): skipped on a
developer's machine without it, failed under CI (CI=true), where `make test` installs each one
first and a skipped test would count as a missing one."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip the test (or fail it under CI) because `reason`: `what` cannot run here."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; with CI=true {what} must run, not skip", pytrace=False)
    pytest.skip(reason)
