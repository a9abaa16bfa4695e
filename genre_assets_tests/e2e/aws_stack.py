"""The aws deployment's end-to-end harness: `genre-assets emulate-aws` as its own process, the
test's own boto3 clients (exempt from the emulator's IAM checks) and a stack pointed at both."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
from botocore.config import Config

from genre_assets.resources.aws.cluster_ownership import RUN_ID_TAG
from genre_assets_emulator.middleware import HARNESS_USER_AGENT
from genre_assets_emulator.steps import FAKE_CREDENTIALS
from genre_assets_tests.e2e.conftest import _register_genres
from genre_assets_tests.e2e.stack import DagsterStack, free_port, running_stack, stop_process_group
from genre_assets_tests.support.aws import IAM_POLICY

BUCKET = "e2e-lake"
PREFIX = "lake"
LAKE_URI = f"s3://{BUCKET}/{PREFIX}"


@contextlib.contextmanager
def emulator_process(
    root: Path,
    start_seconds: float = 1,
    *,
    iam_policy: Path = IAM_POLICY,
    emulator_env: dict[str, str] | None = None,
) -> Iterator[dict[str, str]]:
    """`genre-assets emulate-aws` on a free port, holding the pipeline to `iam_policy` (the
    shipped EMR policy by default) for this lake; yields the environment that points at it.
    `emulator_env`: variables for the emulator itself (e.g. its Athena hold)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = root / "emulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENRE_ASSETS_"))}
    env.update(emulator_env or {})
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genre_assets.cli",
                "emulate-aws",
                "--port",
                str(port),
                "--start-seconds",
                str(start_seconds),
                "--lake",
                LAKE_URI,
                "--iam-policy",
                str(iam_policy),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"emulate-aws exited {proc.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                banner = log.read_text()
                if "Ctrl-C stops it" in banner:  # the bucket exists from here on
                    assert "IAM enforced on the pipeline's calls" in banner, banner
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"emulate-aws did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", **FAKE_CREDENTIALS}
    finally:
        stop_process_group(proc)


def athena_client(env: dict[str, str]):
    """The test's own Athena client (the harness's: not held to the pipeline's policy)."""
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    return session.client(
        "athena",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        config=Config(user_agent_extra=HARNESS_USER_AGENT),
    )


def clients(env: dict[str, str]):
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    url = env["AWS_ENDPOINT_URL"]
    # The test's own calls, not the pipeline's: the IAM policy is not checked for them.
    config = Config(user_agent_extra=HARNESS_USER_AGENT)
    return (session.client(name, endpoint_url=url, config=config) for name in ("s3", "emr", "glue"))


def live_and_dead_clusters(emr) -> list[dict]:
    return [
        emr.describe_cluster(ClusterId=c["Id"])["Cluster"] for c in emr.list_clusters()["Clusters"]
    ]


def cluster_run_id(cluster: dict) -> str:
    return {t["Key"]: t["Value"] for t in cluster.get("Tags", [])}.get(RUN_ID_TAG, "")


@contextlib.contextmanager
def aws_stack(
    root: Path,
    lake: Path,
    start_seconds: float = 1,
    extra_env: dict[str, str] | None = None,
    *,
    iam_policy: Path = IAM_POLICY,
    emulator_env: dict[str, str] | None = None,
) -> Iterator[tuple[DagsterStack, object, object, object]]:
    """The emulator with `lake`'s CSVs uploaded, and webserver + daemon on the aws deployment
    (`extra_env`: more of the deployment's variables, e.g. GENRE_ASSETS_AWS_ENGINE=athena)."""
    with emulator_process(
        root, start_seconds, iam_policy=iam_policy, emulator_env=emulator_env
    ) as aws_env:
        s3, emr, glue = clients(aws_env)
        for path in sorted((lake / "movielens").rglob("*.csv")):
            key = f"{PREFIX}/{path.relative_to(lake).as_posix()}"
            s3.upload_file(str(path), BUCKET, key)
        deployment = {
            "GENRE_ASSETS_DEPLOYMENT": "aws",
            "GENRE_ASSETS_LAKE": LAKE_URI,
            "GENRE_ASSETS_EMR_POLL_SECONDS": "1",
            # Never the developer's own AWS configuration: the emulator's fake credentials only.
            "AWS_CONFIG_FILE": str(root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-aws-credentials"),
            **aws_env,
            **(extra_env or {}),
        }
        with running_stack(root, LAKE_URI, _register_genres, deployment_env=deployment) as stack:
            yield stack, s3, emr, glue
