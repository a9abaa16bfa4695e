"""The lease watchdog (an EMR bootstrap action) under bash, with a stand-in `aws` whose answers the
test writes: when it terminates its cluster, when it leaves it alone, and what it refuses.

The real `aws` CLI and its `--query` meet the watchdog in the emulator tests
(emulator/test_clusters.py) and in the crash tests (e2e/test_crash_recovery.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from genre_assets import rendering
from genre_assets.errors import InputError
from genre_assets.resources.aws.cluster_ownership import DEADLINE_TAG, LEASE_TAG, format_time

LEASE = 4
CHECK = 1
CLUSTER = "j-WATCHDOG0001"


class Node:
    """A master node's info folder, a stand-in `aws` and the cluster's tags as a file."""

    def __init__(self, root: Path, *, master: bool = True, job_flow: str | None = None) -> None:
        self.root = root
        self.info = root / "info"
        self.info.mkdir()
        (self.info / "instance.json").write_text(
            f'{{"instanceGroupId": "ig-1", "isMaster": {"true" if master else "false"}}}\n'
        )
        (self.info / "job-flow.json").write_text(
            job_flow if job_flow is not None else f'{{"jobFlowId": "{CLUSTER}", "x": 1}}\n'
        )
        self.state = root / "cluster.tsv"
        self.calls = root / "calls.log"
        self.calls.touch()
        bin_dir = root / "bin"
        bin_dir.mkdir()
        aws = bin_dir / "aws"
        # describe-cluster prints the line the --query would select; terminate-clusters records
        # the call and flips the state, as EMR does.
        aws.write_text(
            "#!/usr/bin/env bash\n"
            'echo "aws $*" >> "$CALLS"\n'
            'case "$2" in\n'
            '  describe-cluster) cat "$STATE" ;;\n'
            '  terminate-clusters) sed -i "s/^[A-Z_]*/TERMINATING/" "$STATE" ;;\n'
            "  *) exit 2 ;;\n"
            "esac\n"
        )
        aws.chmod(0o755)
        self.script = root / "lease_watchdog.sh"
        self.script.write_text(
            rendering.emr_lease_watchdog_script(
                "eu-west-1",
                lease_seconds=LEASE,
                check_seconds=CHECK,
                lease_tag=LEASE_TAG,
                deadline_tag=DEADLINE_TAG,
            )
        )
        self.env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(root),
            "CALLS": str(self.calls),
            "STATE": str(self.state),
            "GENRE_ASSETS_EMR_INFO_DIR": str(self.info),
        }
        self.pids: list[int] = []

    def tags(self, lease: str, deadline: str = "None", state: str = "RUNNING") -> None:
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(f"{state}\t{lease}\t{deadline}\n")
        tmp.replace(self.state)  # never a half-written line for the watchdog to read

    def bootstrap(self) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["bash", str(self.script)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        self.pids += [int(p) for p in re.findall(r"\(pid (\d+)", done.stdout)]
        return done

    def terminations(self) -> list[str]:
        return [c for c in self.calls.read_text().splitlines() if "terminate-clusters" in c]

    def log(self) -> str:
        path = self.root / rendering.LEASE_WATCHDOG_LOG
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    made = Node(tmp_path)
    yield made
    made.stop()


def _renewing(node: Node, lease_of: Callable[[], str], stop: threading.Event) -> threading.Thread:
    def renew() -> None:
        while not stop.wait(0.5):
            node.tags(lease_of())

    thread = threading.Thread(target=renew, daemon=True)
    thread.start()
    return thread


def _wait_for_termination(node: Node, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if node.terminations():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"no termination within {within} s; log:\n{node.log()}")


def test_a_renewed_lease_keeps_the_cluster_and_a_lapsed_one_ends_it_within_the_lease(node):
    node.tags(format_time(time.time() + LEASE))
    done = node.bootstrap()
    assert done.returncode == 0, done.stderr
    assert f"lease watchdog of cluster {CLUSTER} started" in done.stdout
    stop = threading.Event()
    renewer = _renewing(node, lambda: format_time(time.time() + LEASE), stop)
    time.sleep(LEASE + 3 * CHECK)
    assert node.terminations() == []
    stop.set()
    renewer.join()
    took = _wait_for_termination(node, within=LEASE + 4 * CHECK + 2)
    assert took >= LEASE - 1, f"terminated {took:.1f} s after the last renewal: too early"
    (call,) = node.terminations()
    assert f"--region eu-west-1 --cluster-ids {CLUSTER}" in call
    assert "was not renewed" in node.log()
    # After its termination call the watchdog has nothing left to do.
    time.sleep(2 * CHECK + 0.5)
    assert len(node.terminations()) == 1


def test_a_run_host_whose_clock_lags_keeps_its_cluster_while_it_renews(node):
    # Every lease value looks ten minutes expired to this node, but it keeps changing.
    lagging = lambda: format_time(time.time() - 600)  # noqa: E731
    node.tags(lagging())
    stop = threading.Event()
    renewer = _renewing(node, lagging, stop)
    assert node.bootstrap().returncode == 0
    time.sleep(LEASE + 3 * CHECK)
    assert node.terminations() == [], node.log()
    stop.set()
    renewer.join()
    # Unchanged for two checks and past by the node's clock: ended quickly.
    assert _wait_for_termination(node, within=4 * CHECK + 2) <= 4 * CHECK + 2


def test_a_run_host_whose_clock_runs_ahead_still_loses_an_unrenewed_cluster(node):
    node.tags(format_time(time.time() + 3600))  # never renewed, never "expired" by its value
    assert node.bootstrap().returncode == 0
    took = _wait_for_termination(node, within=LEASE + 3 * CHECK + 2)
    assert took >= LEASE - 1


def test_a_passed_deadline_ends_a_cluster_whose_lease_is_fresh(node):
    node.tags(format_time(time.time() + 3600), deadline=format_time(time.time() - 1))
    assert node.bootstrap().returncode == 0
    _wait_for_termination(node, within=3 * CHECK + 2)
    assert "time limit passed" in node.log()


def test_a_cluster_that_is_already_ending_is_left_alone(node):
    node.tags(format_time(time.time() - 600), state="TERMINATING")
    assert node.bootstrap().returncode == 0
    time.sleep(3 * CHECK)
    assert node.terminations() == []
    describes = [c for c in node.calls.read_text().splitlines() if "describe-cluster" in c]
    assert len(describes) == 2  # the bootstrap's own look, then the watcher's first, its last


def test_a_failing_describe_is_retried_not_taken_for_an_expired_lease(node):
    node.tags(format_time(time.time() + LEASE))
    assert node.bootstrap().returncode == 0
    node.state.unlink()  # from now on `cat` fails: the stand-in describe-cluster errors
    time.sleep(LEASE + 2 * CHECK)
    assert node.terminations() == []
    assert "could not describe cluster" in node.log()


def test_a_node_role_that_cannot_describe_the_cluster_fails_the_bootstrap(node):
    # No state file: every describe-cluster fails, as an AccessDenied would.
    done = node.bootstrap()
    assert done.returncode == 1
    assert "attach deploy/iam-instance-profile-policy.json" in done.stderr
    describes = [c for c in node.calls.read_text().splitlines() if "describe-cluster" in c]
    assert len(describes) == 3  # one throttled call does not fail it


def test_a_node_that_does_not_say_whether_it_is_the_master_fails_the_bootstrap(node):
    (node.info / "instance.json").write_text("{}\n")
    node.tags(format_time(time.time() + LEASE))
    done = node.bootstrap()
    assert done.returncode == 1 and "master node" in done.stderr


def test_core_nodes_start_no_watchdog(tmp_path):
    core = Node(tmp_path, master=False)
    done = core.bootstrap()
    assert done.returncode == 0 and done.stdout == ""
    time.sleep(2 * CHECK)
    assert core.calls.read_text() == ""


def test_a_master_without_a_cluster_id_fails_the_bootstrap_loudly(tmp_path):
    broken = Node(tmp_path, job_flow='{"something": "else"}\n')
    done = broken.bootstrap()
    assert done.returncode == 1
    assert "no jobFlowId" in done.stderr


def test_the_script_refuses_values_that_would_break_its_shell_or_query():
    with pytest.raises(InputError):
        rendering.emr_lease_watchdog_script(
            "eu-west-1; rm", lease_seconds=60, check_seconds=6, lease_tag="a", deadline_tag="b"
        )
    with pytest.raises(InputError):
        rendering.emr_lease_watchdog_script(
            "eu-west-1", lease_seconds=60, check_seconds=6, lease_tag="a'b", deadline_tag="b"
        )
    with pytest.raises(InputError):
        rendering.emr_lease_watchdog_script(
            "eu-west-1", lease_seconds=60, check_seconds=61, lease_tag="a", deadline_tag="b"
        )
