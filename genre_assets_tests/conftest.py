"""Fixtures every test directory can use; the helpers behind them live in `support/`."""

from collections.abc import Iterator

import dagster as dg
import pytest

from genre_assets_tests.support.aws import aws_env, step_driver
from genre_assets_tests.support.local import golden_lake

__all__ = ["aws_env", "golden_lake", "instance", "step_driver"]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """An ephemeral instance, disposed after the test: an instance left open stays Dagster's
    current definitions-state storage and breaks later tests once it is garbage-collected."""
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A safety net: an emulator that was SIGKILLed could not end the processes its clusters'
    bootstrap actions left behind (they escape its process group with `setsid`)."""
    from genre_assets_emulator.nodes import kill_processes, orphaned_node_processes

    if left := kill_processes(orphaned_node_processes()):
        print(f"\nkilled {left} process(es) left by emulated EMR nodes of a dead emulator")
