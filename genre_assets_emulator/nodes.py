"""The emulated master node of a cluster: its info files, its bootstrap actions, its processes.

EMR runs each bootstrap action on every node after STARTING, in the BOOTSTRAPPING state, as the
hadoop user, before the applications are installed; scripts may branch on the node's
`/mnt/var/lib/info/instance.json` (`isMaster`) and `job-flow.json` (`jobFlowId`); a failed
action keeps the cluster from starting (docs/aws-fidelity.md). The emulator plays the master node
only: each action runs once, in a folder of its own that stands for the node's disk, with the
info folder given as GENRE_ASSETS_EMR_INFO_DIR (the real path is not writable here), and with the
environment of a step (the real `aws` CLI pointed at the emulator).

A bootstrap action may leave processes running (the lease watchdog does). When the cluster
terminates, its node is gone, and so must they be: every process started for a node carries a
marker in its environment (with its emulator's pid), which survives `setsid` and double forks,
and `kill_node_processes` finds them by it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from genre_assets_emulator.s3 import split_s3_uri
from genre_assets_emulator.steps import StepContext, step_environment

NODE_MARKER_ENV = "GENRE_ASSETS_EMULATED_NODE"
EMULATOR_PID_ENV = "GENRE_ASSETS_EMULATOR_PID"
INFO_DIR_ENV = "GENRE_ASSETS_EMR_INFO_DIR"
BOOTSTRAP_TIMEOUT_SECONDS = 300.0
_TAIL_CHARS = 1500


@dataclass(frozen=True)
class BootstrapFailure:
    number: int  # 1-based, as EMR counts them
    reason: str


class MasterNode:
    """The master node of one emulated cluster: a folder that lives as long as the cluster."""

    def __init__(self, cluster_id: str, ec2_instance_id: str, instance_group_id: str) -> None:
        self.cluster_id = cluster_id
        self.ec2_instance_id = ec2_instance_id
        self.root = Path(tempfile.mkdtemp(prefix=f"emr-node-{cluster_id}-"))
        self.home = self.root / "home" / "hadoop"
        self.home.mkdir(parents=True)
        self.info = self.root / "mnt" / "var" / "lib" / "info"
        self.info.mkdir(parents=True)
        instance = {"instanceGroupId": instance_group_id, "isMaster": True}
        (self.info / "instance.json").write_text(json.dumps(instance), encoding="utf-8")
        job_flow = {"jobFlowId": cluster_id, "masterInstanceId": ec2_instance_id}
        (self.info / "job-flow.json").write_text(json.dumps(job_flow), encoding="utf-8")

    def environment(self, ctx: StepContext) -> dict[str, str]:
        env = step_environment(ctx, self.home)
        env[INFO_DIR_ENV] = str(self.info)
        env[NODE_MARKER_ENV] = self.cluster_id
        env[EMULATOR_PID_ENV] = str(os.getpid())
        return env

    def run_bootstrap_actions(
        self, actions: list[tuple[str, list[str]]], ctx: StepContext
    ) -> BootstrapFailure | None:
        """Run (script path, args) in order; the first failure stops the rest, as on EMR."""
        for number, (path, args) in enumerate(actions, start=1):
            reason = self._run_one(number, path, args, ctx)
            if reason is not None:
                return BootstrapFailure(number, reason)
        return None

    def _run_one(self, number: int, path: str, args: list[str], ctx: StepContext) -> str | None:
        folder = self.root / "bootstrap" / str(number)
        folder.mkdir(parents=True)
        script = folder / (Path(path).name or "bootstrap")
        try:
            bucket, key = split_s3_uri(path)
            body = ctx.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError, ValueError) as error:
            return f"bootstrap action {number} could not download {path}: {error}"
        script.write_bytes(body)
        script.chmod(0o755)
        try:
            done = subprocess.run(
                ["bash", str(script), *args],
                cwd=folder,
                env=self.environment(ctx),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=BOOTSTRAP_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            return f"bootstrap action {number} did not finish in {BOOTSTRAP_TIMEOUT_SECONDS:.0f} s"
        (folder / "stdout").write_bytes(done.stdout)
        (folder / "stderr").write_bytes(done.stderr)
        if done.returncode == 0:
            return None
        tail = done.stderr.decode("utf-8", "replace").strip()[-_TAIL_CHARS:]
        return (
            f"On the master instance ({self.ec2_instance_id}), bootstrap action {number} "
            f"returned a non-zero return code{': ' + tail if tail else ''}"
        )

    def stop(self) -> None:
        """The node is gone: its processes end and its disk is lost."""
        kill_node_processes(self.cluster_id)
        shutil.rmtree(self.root, ignore_errors=True)


def _environments() -> Iterator[tuple[int, dict[bytes, bytes]]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:
            continue
        variables = dict(v.partition(b"=")[::2] for v in raw.split(b"\0") if v)
        if NODE_MARKER_ENV.encode() in variables:
            yield int(entry.name), variables


def node_processes(cluster_id: str) -> list[int]:
    """Pids of the processes started for the node of `cluster_id` (found by their environment)."""
    return [
        pid for pid, env in _environments() if env[NODE_MARKER_ENV.encode()] == cluster_id.encode()
    ]


def orphaned_node_processes() -> list[int]:
    """Pids of node processes whose emulator is gone (it was SIGKILLed before it could end them)."""
    return [
        pid
        for pid, env in _environments()
        if not _alive(int(env.get(EMULATOR_PID_ENV.encode(), b"0") or 0))
    ]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_processes(pids: list[int]) -> int:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def kill_node_processes(cluster_id: str) -> int:
    """SIGKILL the processes of one emulated node; how many."""
    return kill_processes(node_processes(cluster_id))
