"""A real Dagster deployment for the end-to-end tests: `dagster-webserver` + `dagster-daemon run`.

Both are started from the repository root with its `workspace.yaml`, on 127.0.0.1 with a free
port, a temporary DAGSTER_HOME (a copy of deploy/dagster.yaml: queued runs, no telemetry; or of
deploy/dagster-postgres.yaml) and the `local` deployment over a temporary lake. Each process gets
its own session, so stopping it signals its whole process group: the gRPC code servers and the
run workers they spawn as well.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = REPO_ROOT / "workspace.yaml"
INSTANCE_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
POSTGRES_INSTANCE_YAML = REPO_ROOT / "deploy" / "dagster-postgres.yaml"
BIN = Path(sys.executable).parent

LOCATION = "genre_assets"
REPOSITORY = "__repository__"
GENRE_JOB = "genre_films_job"

BACKFILL_TAG = "dagster/backfill"
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_OK = {"COMPLETED", "COMPLETED_SUCCESS"}
BACKFILL_BAD = {"FAILED", "COMPLETED_FAILED", "CANCELED", "CANCELING"}

# Timings measured by the tests, printed in pytest's terminal summary (see conftest.py).
TIMINGS: dict[str, float] = {}

T = TypeVar("T")

# --- GraphQL documents -------------------------------------------------------------------------

LOCATION_STATUS = """
query { workspaceOrError { __typename
  ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } }
  ... on PythonError { message } } }
"""

DAEMON_HEALTH = """
query { instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }
"""

PARTITION_KEYS = """
query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { __typename
  ... on AssetNode { partitionKeys } } }
"""

MATERIALIZATIONS = """
query($path: [String!]!, $partitions: [String!]) {
  assetNodeOrError(assetKey: {path: $path}) { __typename
    ... on AssetNode { assetMaterializations(partitions: $partitions) { partition runId } } } }
"""

LAUNCH_RUN = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on InvalidSubsetError { message }
  ... on PipelineNotFoundError { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on PythonError { message stack } } }
"""

RUN = """
query($id: ID!) { runOrError(runId: $id) { __typename
  ... on Run { runId status tags { key value } assetSelection { path } } } }
"""

RUNS = """
query($filter: RunsFilter) { runsOrError(filter: $filter) { __typename
  ... on Runs { results { runId status tags { key value } assetSelection { path } } }
  ... on PythonError { message } } }
"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename
  ... on LaunchBackfillSuccess { backfillId launchedRunIds }
  ... on PartitionKeysNotFoundError { message }
  ... on InvalidSubsetError { message }
  ... on PythonError { message stack } } }
"""

BACKFILL = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { id status error { message } }
  ... on PythonError { message } } }
"""

SENSOR = """
query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { __typename
  ... on Sensor { name minIntervalSeconds sensorState { id status
    ticks(limit: 20) { tickId status timestamp runIds skipReason error { message } } } }
  ... on SensorNotFoundError { message }
  ... on PythonError { message } } }
"""

START_SENSOR = """
mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status } }
  ... on PythonError { message } } }
"""

RESET_SENSOR = """
mutation($selector: SensorSelector!) { resetSensor(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status } }
  ... on PythonError { message } } }
"""


# --- small utilities ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tags_of(run: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def asset_paths(run: dict[str, Any]) -> set[str]:
    return {"/".join(a["path"]) for a in run["assetSelection"] or []}


def export_file(lake: Path, slug: str) -> Path:
    """The README's contract: `<lake>/movielens/<slug>/<slug>_films.tsv` (slug written by hand
    in the tests, so a bug in the package's slug rule cannot hide here)."""
    return lake / "movielens" / slug / f"{slug}_films.tsv"


def sensor_selector(name: str) -> dict[str, str]:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"<cannot read {path}: {error}>"
    return "\n".join(text.splitlines()[-lines:])


# --- processes ---------------------------------------------------------------------------------


def _live_group_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (a container's PID 1 may never reap them)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: fall back to "does the group exist at all"
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After "pid (comm)": state, ppid, pgrp, ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def stop_process_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group `proc` leads, then SIGKILL whatever is still alive.

    The process was started with start_new_session=True, so its pid is its group id and the
    group holds its code servers and run workers too.
    """
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _live_group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _live_group_members(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.5)
    left = _live_group_members(pgid)
    if left:
        raise RuntimeError(f"processes {left} of group {pgid} survived SIGKILL")


# --- the stack ---------------------------------------------------------------------------------


class StackError(AssertionError):
    pass


@dataclass
class DagsterStack:
    root: Path
    home: Path
    lake: Path | str  # a folder (local deployment) or an s3:// URI (aws)
    env: dict[str, str]
    base_url: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    # GraphQL ---------------------------------------------------------------------------------

    def gql(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 30) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise StackError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    # diagnostics -----------------------------------------------------------------------------

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- last {lines} lines of {name} log ({path}) ---\n{_tail(path, lines)}"
            for name, path in self.logs.items()
        )

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with code {proc.returncode}\n{self.log_tails()}")

    def wait_for(
        self, what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.5
    ) -> T:
        """Poll `probe` until it returns something truthy; fail with the logs on timeout.

        A probe raises StackError to fail at once (e.g. a run that failed); other exceptions
        count as "not yet" (the server may still be starting).
        """
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            self.check_alive()
            try:
                result = probe()
                if result:
                    return result
                last = result
            except StackError:
                raise
            except Exception as error:
                last = error
            if time.monotonic() > deadline:
                raise StackError(
                    f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}\n"
                    f"{self.log_tails()}"
                )
            time.sleep(interval)

    # runs ------------------------------------------------------------------------------------

    def launch_run(
        self, asset_selection: list[str] | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Launch genre_films_job (optionally a subset of its assets) through the run queue."""
        selector: dict[str, Any] = {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": GENRE_JOB,
        }
        if asset_selection is not None:
            selector["assetSelection"] = [{"path": [key]} for key in asset_selection]
        params = {
            "selector": selector,
            "runConfigData": {},
            "executionMetadata": {
                "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]
            },
        }
        result = self.gql(LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise StackError(f"launchRun failed: {result}")
        return result["run"]["runId"]

    def launch_backfill(self, assets: list[str], partitions: list[str]) -> str:
        """Launch a partition backfill through GraphQL (the UI's call); returns its id."""
        params = {
            "assetSelection": [{"path": [asset]} for asset in assets],
            "partitionNames": partitions,
            "fromFailure": False,
        }
        launched = self.gql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise StackError(f"launchPartitionBackfill failed: {launched}")
        return launched["backfillId"]

    def run(self, run_id: str) -> dict[str, Any]:
        result = self.gql(RUN, {"id": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise StackError(f"run {run_id}: {result}")
        return result

    def wait_run(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run["status"] in RUN_DONE else None

        run = self.wait_for(f"run {run_id} to finish", finished, timeout)
        if run["status"] != "SUCCESS":
            raise StackError(f"run {run_id} ended {run['status']}\n{self.log_tails()}")
        return run

    def runs(self, tags: dict[str, str]) -> list[dict[str, Any]]:
        run_filter = {"tags": [{"key": k, "value": v} for k, v in tags.items()]}
        result = self.gql(RUNS, {"filter": run_filter})["runsOrError"]
        if result["__typename"] != "Runs":
            raise StackError(f"runsOrError: {result}")
        return result["results"]

    def partition_keys(self, asset: str) -> list[str]:
        node = self.gql(PARTITION_KEYS, {"path": [asset]})["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise StackError(f"asset {asset}: {node}")
        return node["partitionKeys"]

    def materializations(self, asset: str, partitions: list[str]) -> list[dict[str, str]]:
        variables = {"path": [asset], "partitions": partitions}
        node = self.gql(MATERIALIZATIONS, variables)["assetNodeOrError"]
        if node["__typename"] != "AssetNode":
            raise StackError(f"asset {asset}: {node}")
        return node["assetMaterializations"]


def wait_for_backfill(stack: DagsterStack, backfill_id: str, timeout: float) -> dict[str, Any]:
    """Poll a backfill until it completes; fail at once, with the logs, when it fails."""

    def completed() -> dict[str, Any] | None:
        backfill = stack.gql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill["__typename"] != "PartitionBackfill":
            raise StackError(f"backfill {backfill_id}: {backfill}")
        if backfill["status"] in BACKFILL_BAD:
            raise StackError(f"backfill {backfill_id} ended {backfill}\n{stack.log_tails()}")
        return backfill if backfill["status"] in BACKFILL_OK else None

    # The stock daemon looks at backfills every 30 s and needs two passes (submit, then see
    # the run finish): 30-60 s, plus the run itself.
    return stack.wait_for(f"backfill {backfill_id} to complete", completed, timeout, interval=1)


def _spawn(stack: DagsterStack, name: str, argv: list[str]) -> subprocess.Popen:
    log = stack.root / f"{name}.log"
    stack.logs[name] = log
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=stack.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own session and process group: SIGINT from a terminal does not reach it, and
            # stop_process_group() reaches its code servers and run workers.
            start_new_session=True,
        )
    stack.processes[name] = proc
    return proc


def _executable(name: str) -> str:
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise StackError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def _start_webserver(stack: DagsterStack, attempts: int = 3) -> None:
    """Start the webserver on a free port; retry on another port if the one picked was taken."""
    for attempt in range(attempts):
        port = free_port()
        stack.base_url = f"http://127.0.0.1:{port}"
        argv = [
            _executable("dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(WORKSPACE),
        ]
        proc = _spawn(stack, "webserver", argv)

        def serving() -> bool:
            with urllib.request.urlopen(f"{stack.base_url}/server_info", timeout=2) as response:
                return response.status == 200

        try:
            stack.wait_for("the webserver's /server_info", serving, timeout=90)
            return
        except StackError:
            if proc.poll() is None or attempt == attempts - 1:
                raise
            stack.processes.pop("webserver")  # exited early (e.g. port taken): try another


def _wait_until_ready(stack: DagsterStack) -> None:
    def location_loaded() -> bool:
        entries = stack.gql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        for entry in entries:
            loaded = entry["locationOrLoadError"] or {}
            if entry["loadStatus"] == "LOADED" and loaded.get("__typename") == "PythonError":
                raise StackError(f"code location {entry['name']} failed to load: {loaded}")
        return bool(entries) and all(
            e["loadStatus"] == "LOADED"
            and (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
            for e in entries
        )

    stack.wait_for("the code location to load", location_loaded, timeout=90)

    def daemons_healthy() -> bool:
        statuses = stack.gql(DAEMON_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
        return all(s["healthy"] for s in statuses if s["required"])

    stack.wait_for("every required daemon to report healthy", daemons_healthy, timeout=90)


@contextlib.contextmanager
def running_stack(
    root: Path,
    lake: Path | str,
    prepare_home: Callable[[Path], None] | None = None,
    deployment_env: dict[str, str] | None = None,
    instance_yaml: Path = INSTANCE_YAML,
) -> Iterator[DagsterStack]:
    """Webserver + daemon over `lake` with a fresh instance in `root`; always stopped on exit.

    `prepare_home(DAGSTER_HOME)` runs before any process starts (e.g. to register partitions).
    `deployment_env` is added last: e.g. the aws deployment and the emulator's endpoint, or the
    variables that `instance_yaml` (copied to DAGSTER_HOME/dagster.yaml) reads.
    """
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(instance_yaml, home / "dagster.yaml")
    if prepare_home is not None:
        prepare_home(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_ASSETS_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        GENRE_ASSETS_DEPLOYMENT="local",
        GENRE_ASSETS_LAKE=str(lake),
        # Two threads and a small limit, as in the in-process tests, on the 2-core CI machine.
        GENRE_ASSETS_DUCKDB_THREADS="2",
        GENRE_ASSETS_DUCKDB_MEMORY="1GB",
        PYTHONUNBUFFERED="1",
    )
    env.update(deployment_env or {})
    stack = DagsterStack(root=root, home=home, lake=lake, env=env)
    try:
        # The stock daemon: its backfill loop sleeps 30 s between passes, which the backfill
        # test budgets for instead of patching Dagster's private daemon constants.
        _spawn(stack, "daemon", [_executable("dagster-daemon"), "run", "-w", str(WORKSPACE)])
        _start_webserver(stack)
        _wait_until_ready(stack)
        yield stack
    finally:
        errors = []
        for name, proc in reversed(list(stack.processes.items())):
            try:
                stop_process_group(proc)
            except Exception as error:
                errors.append(f"{name}: {error}")
        if errors:
            raise RuntimeError("could not stop the Dagster processes: " + "; ".join(errors))
