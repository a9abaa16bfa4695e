"""Fixtures for the end-to-end tests.

One Dagster stack (webserver + daemon, see stack.py) serves every test of this package: starting
it costs ~15 s on the 2-core CI machine. Each test works on its own genres, so none depends on
another having run. The stack starts on a fresh lake and a fresh instance (only the MovieLens
genres registered, as the partition seeder does): nothing materialises the source tables first,
so the first backfill (test_backfill.py, collected first) meets the lake as a new user does.

The Postgres-backed stack (postgres_stack, for test_backfill_postgres.py) is a second one, on a
lake of its own, started for that module only.
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
from genre_assets_tests.e2e.postgres import PostgresServer, require_postgres, running_postgres
from genre_assets_tests.e2e.stack import (
    POSTGRES_INSTANCE_YAML,
    TIMINGS,
    DagsterStack,
    running_stack,
)

SOURCE_ASSETS = ["film_database", "movies", "ratings"]


def _register_genres(home: Path) -> None:
    # The MovieLens vocabulary in its order (what the genre_partition_seeder sensor also adds),
    # registered before the daemon starts, so e.g. Action, Adventure, Animation are adjacent.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        register_vocabulary(instance)


def make_sample_lake(lake: Path) -> Path:
    """A small generated lake (400 movies, 20,000 ratings: about a second) at `lake`."""
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
def e2e_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_lake(tmp_path_factory.mktemp("e2e_lake") / "lake")


@pytest.fixture(scope="package")
def dagster_stack(
    tmp_path_factory: pytest.TempPathFactory, e2e_lake: Path
) -> Iterator[DagsterStack]:
    root = tmp_path_factory.mktemp("dagster_stack")
    started = time.monotonic()
    with running_stack(root, e2e_lake, prepare_home=_register_genres) as stack:
        TIMINGS["stack start (webserver, daemon, code location ready)"] = time.monotonic() - started
        yield stack


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server (postgres.py): skips without one, fails when CI=true."""
    binaries = require_postgres()
    started = time.monotonic()
    with running_postgres(binaries) as server:
        TIMINGS["postgres: initdb, start, role and database"] = time.monotonic() - started
        yield server


@pytest.fixture(scope="module")
def postgres_stack(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[DagsterStack]:
    """A second stack, on a lake of its own, with deploy/dagster-postgres.yaml as its instance.

    Module-scoped, so it stops when its tests are done instead of running beside the other
    tests' stack. No genre is registered beforehand: the genre_partition_seeder sensor has to
    do it, through Postgres.
    """
    root = tmp_path_factory.mktemp("postgres_stack")
    lake = make_sample_lake(root / "lake")
    started = time.monotonic()
    with running_stack(
        root,
        lake,
        deployment_env=postgres_server.dagster_env(),
        instance_yaml=POSTGRES_INSTANCE_YAML,
    ) as stack:
        TIMINGS["postgres: stack start (webserver, daemon, code location ready)"] = (
            time.monotonic() - started
        )
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
