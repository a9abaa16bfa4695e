"""Crashes of the processes that hold EMR clusters, on the aws deployment against
`genre-assets emulate-aws`, with the real webserver and daemon.

Three kinds, each killed with SIGKILL while the run's cluster starts and, separately, while an EMR
step runs: a `genre-assets materialize` run recorded in the stack's instance, the run worker of a
UI-launched run, and the code server that launched a UI run together with that worker. Only the
second kind is visible to Dagster (the code server reports its worker's death); in the others the
run stays STARTED. Either way the cluster's lease is no longer renewed, so its own lease watchdog
(a bootstrap action run by the emulator with the real `aws` CLI) must terminate it within the
lease plus one janitor interval, whatever else died, and the janitor (in the stack's daemon) must
then mark a run that still looked alive failed, naming the cluster, and note it in the others.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from genre_assets.resources.aws.cluster_ownership import OWNER_TAG
from genre_assets.sensors.emr_janitor import JANITOR_INTERVAL_SECONDS
from genre_assets_tests.e2e.aws_stack import aws_stack, cluster_run_id, live_and_dead_clusters
from genre_assets_tests.e2e.stack import TIMINGS, DagsterStack

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 15
START_SECONDS = 15  # how long the emulator keeps a new cluster STARTING and BOOTSTRAPPING
# Kill -> TERMINATED, the bound: the lease runs out, then one janitor interval at most.
# The watchdog checks every lease/10 s on the cluster itself, so no process here needs to live.
BOUND = LEASE_SECONDS + JANITOR_INTERVAL_SECONDS
# Kill -> the run's log names its cluster: the janitor's next tick after the termination. When
# its code server was killed, its ticks fail until the daemon restarts it (its workspace reload,
# every 60 s), and the next tick comes an interval on; + 30 s for a busy machine.
RELOAD_SECONDS = 60
VERDICT_BOUND = BOUND + RELOAD_SECONDS + 2 * JANITOR_INTERVAL_SECONDS + 30


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory, e2e_lake: Path):
    env = {"GENRE_ASSETS_EMR_LEASE_SECONDS": str(LEASE_SECONDS)}
    root = tmp_path_factory.mktemp("crash_stack")
    with aws_stack(root, e2e_lake, start_seconds=START_SECONDS, extra_env=env) as stack:
        yield stack


def _cli_run(stack: DagsterStack, genre: str) -> subprocess.Popen:
    log = (stack.root / f"cli-{genre}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "genre_assets.cli", "materialize", "--genre", genre],
        env=stack.env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _new_cluster(stack: DagsterStack, emr, known: set[str], proc: subprocess.Popen) -> dict:
    def appeared():
        if proc.poll() is not None:
            raise AssertionError(f"the CLI run ended early ({proc.returncode})")
        fresh = [c for c in live_and_dead_clusters(emr) if c["Id"] not in known]
        return fresh[0] if fresh else None

    return stack.wait_for("the CLI run's cluster", appeared, timeout=120, interval=0.3)


def _kill_when(
    stack: DagsterStack, proc: subprocess.Popen, what: str, ready: Callable[[], bool]
) -> float:
    stack.wait_for(what, lambda: ready() or None, timeout=180, interval=0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return time.time()


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process we can see."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found.append((int(entry.name), ppid, cmdline))
    return found


def _run_workers() -> set[tuple[int, int]]:
    """(worker pid, code server pid) of every UI-launched run worker: the code server (`dagster
    api grpc`) starts each as a multiprocessing child, whose command line names no run."""
    processes = _processes()
    servers = {pid for pid, _, cmdline in processes if " api grpc" in cmdline}
    return {
        (pid, ppid)
        for pid, ppid, cmdline in processes
        if ppid in servers and "spawn_main" in cmdline and "resource_tracker" not in cmdline
    }


def _kill(*pids: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _state(emr, cluster_id: str) -> str:
    return emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]


def _assert_terminated_within(
    stack: DagsterStack, emr, point: str, cluster_id: str, killed_at: float, bound: float
) -> None:
    """Wait for the cluster to be TERMINATED; hold kill -> its EndDateTime to `bound`.

    Times are wall-clock (EMR's timeline): the kills come one after another, so a cluster may
    have ended long before the test looks at it.
    """
    cluster = stack.wait_for(
        f"cluster {cluster_id} ({point}) to be TERMINATED",
        lambda: _terminated(emr, cluster_id),
        timeout=bound + 60,
        interval=1,
    )
    took = cluster["Status"]["Timeline"]["EndDateTime"].timestamp() - killed_at
    TIMINGS[f"{point}: kill -> cluster TERMINATED"] = took
    assert took <= bound, f"{point}: {took:.0f} s"


def _terminated(emr, cluster_id: str) -> dict | None:
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    return cluster if cluster["Status"]["State"] == "TERMINATED" else None


def test_killed_cli_runs_lose_their_clusters_and_are_marked_failed(crash_stack):
    stack, _s3, emr, _glue = crash_stack
    killed: dict[str, tuple[str, float]] = {}  # crash point -> (cluster id, kill time)

    # 1. While the cluster starts.
    proc = _cli_run(stack, "Comedy")
    cluster = _new_cluster(stack, emr, set(), proc)
    killed["while STARTING"] = (
        cluster["Id"],
        _kill_when(stack, proc, "STARTING", lambda: _state(emr, cluster["Id"]) == "STARTING"),
    )
    assert _state(emr, cluster["Id"]) == "STARTING"

    # 2. While an EMR step runs.
    proc = _cli_run(stack, "Drama")
    second = _new_cluster(stack, emr, {cluster["Id"]}, proc)

    def a_step_runs() -> bool:
        steps = emr.list_steps(ClusterId=second["Id"])["Steps"]
        return any(s["Status"]["State"] == "RUNNING" for s in steps)

    killed["during a step"] = (second["Id"], _kill_when(stack, proc, "a RUNNING step", a_step_runs))

    # Both clusters belong to this deployment (the instance's own id: the CLI shares DAGSTER_HOME
    # with the daemon), and both runs still look STARTED to Dagster.
    clusters = {c["Id"]: c for c in live_and_dead_clusters(emr)}
    run_ids = {point: cluster_run_id(clusters[cid]) for point, (cid, _) in killed.items()}
    owners = {
        {t["Key"]: t["Value"] for t in clusters[cid].get("Tags", [])}[OWNER_TAG]
        for cid, _ in killed.values()
    }
    assert len(owners) == 1 and owners.pop().startswith("instance-")

    for point, (cluster_id, at) in killed.items():
        _assert_terminated_within(stack, emr, f"CLI run killed {point}", cluster_id, at, BOUND)
    for point, (cluster_id, at) in killed.items():
        # Nobody saw these runs die: the janitor's message is their failure.
        failure = _janitor_verdict(stack, f"CLI run killed {point}", run_ids[point], at)
        assert failure is not None and failure.dagster_event_type == RUN_FAILURE, point
        message = failure.message or ""
        assert f"EMR cluster {cluster_id} was terminated" in message, message
        assert "lease expired" in message, message


def _janitor_verdict(stack: DagsterStack, point: str, run_id: str, killed_at: float):
    """The janitor's word in the run's log (its failure, or a note on a run Dagster had already
    failed), waited for and timed from the kill."""

    def said():
        with dg.DagsterInstance.from_config(str(stack.home)) as instance:
            for record in instance.all_logs(run_id):
                if "emr_janitor" in (record.message or ""):
                    return record
        return None

    record = stack.wait_for(
        f"the janitor's word on {point}", said, timeout=VERDICT_BOUND, interval=2
    )
    took = record.timestamp - killed_at
    TIMINGS[f"{point}: kill -> janitor's word in the run's log"] = took
    assert took <= VERDICT_BOUND, f"{point}: {took:.0f} s"
    return record


RUN_FAILURE = dg.DagsterEventType.RUN_FAILURE


def _ui_run(stack: DagsterStack, genre: str) -> str:
    return stack.launch_run(
        asset_selection=["genre_film_export", "genre_film_table"],
        tags={"dagster/partition": genre},
    )


def _cluster_of(stack: DagsterStack, emr, run_id: str) -> dict:
    def appeared():
        mine = [c for c in live_and_dead_clusters(emr) if cluster_run_id(c) == run_id]
        return mine[0] if mine else None

    # A run queued after a code server crash waits for the daemon to restart it (up to a minute).
    return stack.wait_for(f"run {run_id}'s cluster", appeared, timeout=240, interval=0.3)


def _step_runs(emr, cluster_id: str) -> bool:
    steps = emr.list_steps(ClusterId=cluster_id)["Steps"]
    return any(s["Status"]["State"] == "RUNNING" for s in steps)


def test_killed_ui_run_workers_and_code_servers_lose_their_clusters(crash_stack):
    stack, _s3, emr, _glue = crash_stack
    killed: dict[str, tuple[str, str, float]] = {}  # crash point -> (run, cluster, kill time)

    def crash(point: str, genre: str, ready, with_code_server: bool) -> None:
        before = _run_workers()
        run_id = _ui_run(stack, genre)
        cluster = _cluster_of(stack, emr, run_id)
        stack.wait_for(point, lambda: ready(cluster["Id"]) or None, timeout=180, interval=0.3)
        # One run at a time in this test: the worker that appeared since launch is this run's.
        (worker,) = _run_workers() - before
        _kill(*(worker if with_code_server else worker[:1]))
        killed[point] = (run_id, cluster["Id"], time.time())

    starting = lambda cluster_id: _state(emr, cluster_id) == "STARTING"  # noqa: E731
    stepping = lambda cluster_id: _step_runs(emr, cluster_id)  # noqa: E731
    crash("UI run worker killed while STARTING", "Horror", starting, with_code_server=False)
    crash("UI run worker killed during a step", "War", stepping, with_code_server=False)
    # The daemon starts a new code server for the next run and the janitor's ticks.
    crash("code server + worker killed while STARTING", "Western", starting, with_code_server=True)
    crash("code server + worker killed during a step", "Musical", stepping, with_code_server=True)

    for point, (_run_id, cluster_id, at) in killed.items():
        _assert_terminated_within(stack, emr, point, cluster_id, at, BOUND)

    for point, (run_id, cluster_id, at) in killed.items():
        record = _janitor_verdict(stack, point, run_id, at)
        assert f"EMR cluster {cluster_id} was terminated" in (record.message or ""), point
        with dg.DagsterInstance.from_config(str(stack.home)) as instance:
            run = instance.get_run_by_id(run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.FAILURE, point
            if "code server" in point:
                # Nobody saw this run die: the janitor's message is its failure.
                (failure,) = instance.all_logs(run_id, of_type=RUN_FAILURE)
                assert f"EMR cluster {cluster_id} was terminated" in (failure.message or "")
