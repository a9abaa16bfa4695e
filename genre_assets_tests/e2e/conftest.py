"""Fixtures for the end-to-end tests.

One Dagster stack (webserver + daemon, see stack.py) serves every test of this package: starting
it costs ~15 s on the 2-core CI machine. Each test works on its own genres, so none depends on
another having run. The stack starts on a fresh lake and a fresh instance (only the MovieLens
genres registered, as the partition seeder does): nothing materialises the source tables first,
so the first backfill (test_backfill.py, collected first) meets the lake as a new user does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from genre_assets.partitions import register_vocabulary
from genre_assets_tests.e2e.browser import chromium_page, require_browser
from genre_assets_tests.e2e.stack import TIMINGS, DagsterStack, running_stack

SOURCE_ASSETS = ["film_database", "movies", "ratings"]


def _register_genres(home: Path) -> None:
    # The MovieLens vocabulary in its order (what the genre_partition_seeder sensor also adds),
    # registered before the daemon starts, so e.g. Action, Adventure, Animation are adjacent.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        register_vocabulary(instance)


@pytest.fixture(scope="package")
def e2e_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("e2e_lake") / "lake"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "genre_assets.cli",
            "sample-data",
            "--lake",
            str(lake),
            "--ratings",
            "20000",
            "--movies",
            "400",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    return lake


@pytest.fixture(scope="package")
def dagster_stack(
    tmp_path_factory: pytest.TempPathFactory, e2e_lake: Path
) -> Iterator[DagsterStack]:
    root = tmp_path_factory.mktemp("dagster_stack")
    started = time.monotonic()
    with running_stack(root, e2e_lake, prepare_home=_register_genres) as stack:
        TIMINGS["stack start (webserver, daemon, code location ready)"] = time.monotonic() - started
        yield stack


@pytest.fixture(scope="package")
def chromium() -> Path:
    """Request this before dagster_stack, so a skip happens before the stack starts."""
    return require_browser()


@pytest.fixture
def browser_page(chromium: Path):
    with chromium_page(chromium) as page:
        yield page


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.section("end-to-end timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
