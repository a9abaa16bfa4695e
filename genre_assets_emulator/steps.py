"""Runs one EMR step for real: Hive scripts against the emulated Glue, shell commands in a sandbox.

The engine submits `command-runner.jar` steps of two kinds (see `genre_assets.resources.aws.emr_cluster`):
`hive-script --run-hive-script --args -f s3://.../x.hql` and `bash -c "... aws s3 cp ... | bash -s"`.
A shell step runs with a PATH whose first folder holds the real `aws` CLI and the emulated
`presto-cli` and `trino-cli`, with credentials and AWS_ENDPOINT_URL pointing at the emulator, in a
fresh working folder, as a step on the master node would; the consoles learn the cluster's
applications and Hive connector properties from the step's environment, and only the console of
an application the cluster has runs; they log every object they fetch to `reads_log_path()`. The outcome decides COMPLETED or FAILED.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from genre_assets_emulator.hive import HiveError, run_script
from genre_assets_emulator.presto_cli import (
    APPLICATIONS_ENV,
    CONSOLES,
    PRESTO_HIVE_PROPERTIES_ENV,
    READS_LOG_ENV,
    TRINO_HIVE_PROPERTIES_ENV,
)
from genre_assets_emulator.s3 import split_s3_uri

EMULATOR_USER_AGENT = "genre-assets-emulator"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_SHELLS = {"bash", "sh"}
_TAIL_LINES = 8
_TAIL_CHARS = 1500


@dataclass(frozen=True)
class StepResult:
    ok: bool
    reason: str  # why it failed ('' when it did not)
    stdout: str
    stderr: str


@dataclass(frozen=True)
class StepContext:
    """Where a step runs: the emulator's endpoint, the cluster's region and the tools folder."""

    endpoint_url: str
    region: str
    bin_dir: Path
    cancelled: threading.Event  # set when the cluster terminates or the emulator stops
    # The cluster's presto-connector-hive and trino-connector-hive configurations: what the
    # emulated presto-cli and trino-cli allow.
    presto_hive_properties: dict[str, str] = field(default_factory=dict)
    trino_hive_properties: dict[str, str] = field(default_factory=dict)
    # The cluster's applications; None when its request named none (what EMR installs then is
    # not documented, so every console runs).
    applications: frozenset[str] | None = None

    @classmethod
    def of_cluster(
        cls,
        cluster: Any,
        *,
        endpoint_url: str,
        region: str,
        bin_dir: Path,
        cancelled: threading.Event,
    ) -> StepContext:
        """Where a moto cluster's steps run: its applications, its connectors' properties."""
        configurations = list(getattr(cluster, "configurations", None) or [])
        return cls(
            endpoint_url=endpoint_url,
            region=region,
            bin_dir=bin_dir,
            cancelled=cancelled,
            presto_hive_properties=classification_properties(
                configurations, "presto-connector-hive"
            ),
            trino_hive_properties=classification_properties(configurations, "trino-connector-hive"),
            applications=requested_applications(cluster),
        )

    def client(self, service: str) -> Any:
        """A client of the emulator, marked so its calls are not counted as the pipeline's."""
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=self.region,
        )
        config = Config(
            user_agent_extra=EMULATOR_USER_AGENT, retries={"max_attempts": 3, "mode": "standard"}
        )
        return session.client(service, endpoint_url=self.endpoint_url, config=config)


def classification_properties(
    configurations: list[dict[str, Any]], classification: str
) -> dict[str, str]:
    """The properties RunJobFlow gave `classification` (e.g. `trino-connector-hive`)."""
    for configuration in configurations or []:
        if configuration.get("Classification") == classification:
            return {str(k): str(v) for k, v in (configuration.get("Properties") or {}).items()}
    return {}


def requested_applications(cluster: Any) -> frozenset[str] | None:
    """The applications a moto cluster was requested with; None when the request named none
    (moto then records a default application whose name it loses, so one without a name)."""
    names = frozenset(str(a.name) for a in getattr(cluster, "applications", None) or [] if a.name)
    return names or None


def make_bin_dir(folder: Path) -> Path:
    """The tools of the emulated master: the real `aws` CLI and the `presto-cli` and `trino-cli`
    stand-ins (each refuses to run on a cluster without its application)."""
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        found = shutil.which("aws")
        if not found:
            raise FileNotFoundError(
                "the aws CLI is not installed next to this Python: pip install -e '.[emulator]' "
                "(it brings awscli), which shell steps need for `aws s3 cp`"
            )
        aws = Path(found)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aws").symlink_to(aws)
    for cli in CONSOLES:
        run = (
            "import sys; from genre_assets_emulator.presto_cli import main; "
            f"sys.exit(main(sys.argv[1:], {cli!r}))"
        )
        stand_in = folder / cli
        stand_in.write_text(
            "#!/bin/sh\n"
            f"# genre-assets' emulated {cli} (DuckDB over the emulated Glue and S3).\n"
            f'exec {shlex.quote(sys.executable)} -c {shlex.quote(run)} "$@"\n',
            encoding="utf-8",
        )
        stand_in.chmod(0o755)
    return folder


def run_step(jar: str, args: list[str], ctx: StepContext) -> StepResult:
    if jar != "command-runner.jar":
        return _failed(f"only command-runner.jar steps are emulated, not {jar!r}")
    if args[:1] == ["hive-script"]:
        return _run_hive(args, ctx)
    if args[:1] and args[0] in _SHELLS:
        return _run_command(args, ctx)
    return _failed(f"command-runner.jar command {args[:1]} is not emulated (hive-script, bash, sh)")


def _run_hive(args: list[str], ctx: StepContext) -> StepResult:
    try:
        uri = args[args.index("-f") + 1]
    except (ValueError, IndexError):
        return _failed(f"hive-script without `-f <script>`: {args}")
    try:
        bucket, key = split_s3_uri(uri)
        text = ctx.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except (ClientError, BotoCoreError, UnicodeDecodeError, ValueError) as error:
        return _failed(f"cannot read the Hive script {uri}: {error}")
    try:
        output = run_script(text, ctx.client("glue"))
    except HiveError as error:
        message = f"Hive script {uri} failed: {error}"
        return StepResult(False, message, "", f"FAILED: {error}\n")
    except (ClientError, BotoCoreError) as error:
        return _failed(f"Hive script {uri}: the metastore (Glue) call failed: {error}")
    return StepResult(True, "", "".join(f"{line}\n" for line in output), "")


def step_environment(ctx: StepContext, home: Path) -> dict[str, str]:
    """A clean environment: nothing of the caller's AWS profile or credentials leaks in."""
    package_root = Path(__file__).resolve().parents[1]
    env = {
        "PATH": f"{ctx.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "AWS_ENDPOINT_URL": ctx.endpoint_url,
        "AWS_DEFAULT_REGION": ctx.region,
        "AWS_REGION": ctx.region,
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        # The stand-in imports genre_assets even when it runs from a checkout, not installed.
        "PYTHONPATH": str(package_root),
        **FAKE_CREDENTIALS,
        PRESTO_HIVE_PROPERTIES_ENV: json.dumps(ctx.presto_hive_properties),
        TRINO_HIVE_PROPERTIES_ENV: json.dumps(ctx.trino_hive_properties),
    }
    if ctx.applications is not None:
        env[APPLICATIONS_ENV] = json.dumps(sorted(ctx.applications))
    env[READS_LOG_ENV] = str(reads_log_path(ctx.bin_dir))
    return env


def reads_log_path(bin_dir: Path) -> Path:
    """Where the consoles of the emulator whose tools are in `bin_dir` log the objects they
    fetch: READS_LOG_ENV of the emulator's own process when set (a test names its file), else a
    file next to the tools."""
    return Path(os.environ.get(READS_LOG_ENV) or bin_dir.parent / "query-reads.jsonl")


def _run_command(args: list[str], ctx: StepContext) -> StepResult:
    with tempfile.TemporaryDirectory(prefix="emr-step-") as work:
        home = Path(work)
        process = subprocess.Popen(
            args,
            cwd=work,
            env=step_environment(ctx, home),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own process group, so a terminated cluster or a stopped emulator ends the
            # whole pipeline (bash, aws, presto-cli or trino-cli), not just the outer shell.
            start_new_session=True,
        )
        try:
            while True:
                try:
                    out, err = process.communicate(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    if ctx.cancelled.is_set():
                        _kill_group(process)
        finally:
            if process.poll() is None:
                _kill_group(process)
                process.communicate()
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if ctx.cancelled.is_set() and process.returncode != 0:
        return StepResult(False, "the step was cancelled: the cluster terminated", stdout, stderr)
    if process.returncode == 0:
        return StepResult(True, "", stdout, stderr)
    tail = "\n".join([line for line in stderr.splitlines() if line.strip()][-_TAIL_LINES:])
    reason = f"Step failed with exitCode {process.returncode}"
    if tail:
        reason += f": {tail[-_TAIL_CHARS:]}"
    return StepResult(False, reason, stdout, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def upload_logs(
    ctx: StepContext, log_uri: str | None, cluster_id: str, step_id: str, result: StepResult
) -> None:
    """stdout.gz and stderr.gz where EMR puts them; best effort, as on EMR."""
    try:
        bucket, prefix = split_s3_uri(log_uri or "")
    except ValueError:
        return
    folder = "/".join(p for p in (prefix.strip("/"), cluster_id, "steps", step_id) if p)
    s3 = ctx.client("s3")
    try:
        for name, text in (("stdout.gz", result.stdout), ("stderr.gz", result.stderr)):
            s3.put_object(
                Bucket=bucket, Key=f"{folder}/{name}", Body=gzip.compress(text.encode("utf-8"))
            )
    except (ClientError, BotoCoreError):
        pass


def _failed(reason: str) -> StepResult:
    return StepResult(False, reason, "", reason + "\n")
