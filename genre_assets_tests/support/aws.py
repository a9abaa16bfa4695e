"""moto-backed AWS for in-process tests: fake credentials, a bucket with the golden lake, a
driver that moves EMR steps through their states the way a real cluster would, and local
endpoints that refuse or count connections (for unreachable-endpoint and no-call tests)."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import boto3
import pytest
from dagster_aws.s3 import S3Resource
from moto import mock_aws
from moto.emr.models import emr_backends

from genre_assets.domain.tsv import TSV_HEADER
from genre_assets.resources.aws import emr_cluster
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.resources.aws.emr_engine import EMREngineResource
from genre_assets.resources.aws.glue_catalog import GlueCatalogResource
from genre_assets.resources.aws.s3_lake import S3LakeResource
from genre_assets.settings import SETTINGS
from genre_assets_tests.support.local import FIXTURES, REPO_ROOT

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "genre-lake"
LAKE_URI = f"s3://{BUCKET}/data"
IAM_POLICY = REPO_ROOT / "deploy" / "iam-policy.json"


@pytest.fixture
def aws_env(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "GENRE_ASSETS_LAKE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        for path in (FIXTURES / "golden_lake").rglob("*.csv"):
            key = "data/" + path.relative_to(FIXTURES / "golden_lake").as_posix()
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        yield


@contextlib.contextmanager
def emulated_aws(
    monkeypatch,
    tmp_path: Path,
    start_seconds: float,
    *,
    lake: str | None = None,
    iam_policy: Path | None = IAM_POLICY,
) -> Iterator[object]:
    """A running `AwsEmulator` with boto3 (and child processes) pointed at it: its fake
    credentials only, never the developer's ~/.aws.

    The pipeline's calls are held to the shipped IAM policy (`iam_policy=None`: not at all),
    filled in with the pipeline's default database and EMR roles and the bucket and prefix of
    `lake` (any bucket and prefix without one). The test's own clients, those of `boto3.client()`
    (boto3's default session, which the product never uses), say in their User-Agent that they
    are the harness, the operator who sets the lake up, so the policy is not theirs.
    """
    from genre_assets_emulator import AwsEmulator
    from genre_assets_emulator.middleware import HARNESS_USER_AGENT

    with AwsEmulator(
        start_seconds=start_seconds, iam_policy=iam_policy, iam_values=iam_values(lake)
    ) as aws:
        for name, value in aws.client_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
        harness = boto3.session.Session()
        harness._session.user_agent_extra = HARNESS_USER_AGENT
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", harness)
        yield aws


def iam_values(lake: str | None = None) -> dict[str, str]:
    """The placeholders of deploy/iam-policy.json for the pipeline's defaults and `lake`."""
    if lake:
        bucket, _, prefix = lake.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        location = {"Bucket": bucket, "Prefix": f"{prefix}/" if prefix else ""}
    else:
        location = {"Bucket": "*", "Prefix": "*"}
    return {
        **location,
        "Database": SETTINGS["database"].default,
        "ServiceRole": SETTINGS["emr_service_role"].default,
        "InstanceProfileRole": SETTINGS["emr_instance_profile"].default,
    }


def aws_resources(**engine_config) -> dict:
    aws = AwsClientsResource(region_name=REGION)
    lake = S3LakeResource(uri_root=LAKE_URI, s3=S3Resource(region_name=REGION))
    catalog = GlueCatalogResource(aws=aws)
    settings = {"poll_seconds": 1, "step_timeout_seconds": 600, **engine_config}
    engine = EMREngineResource(lake=lake, catalog=catalog, aws=aws, **settings)
    return {"lake": lake, "catalog": catalog, "engine": engine}


def start_tagged_cluster(emr, tags: Mapping[str, str]) -> str:
    """A bare moto cluster with these tags (what the janitor sees), its id."""
    return emr.run_job_flow(
        Name="c",
        ReleaseLabel="emr-6.15.0",
        Instances={
            "KeepJobFlowAliveWhenNoSteps": True,
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}
            ],
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["JobFlowId"]


def clusters() -> list:
    return list(emr_backends[ACCOUNT][REGION].clusters.values())


class StepDriver:
    """Replaces the engine's poll sleep: each poll advances every live step one state.

    PENDING -> RUNNING -> `outcome(step)` (COMPLETED by default). A completed Hive step applies
    its script to moto's Glue with the emulator's Hive, and a completed export step uploads
    header-only TSVs to the URIs its script names, as the real steps would.
    """

    def __init__(
        self,
        outcome: Callable[[object], str] | None = None,
        on_poll: Callable[[], None] | None = None,
    ):
        self.outcome = outcome or (lambda step: "COMPLETED")
        self.on_poll = on_poll
        self.polls = 0

    def __call__(self, _seconds: float) -> None:
        self.polls += 1
        if self.on_poll:
            self.on_poll()
        for cluster in clusters():
            for step in cluster.steps:
                if step.state == "PENDING":
                    step.state = "RUNNING"
                elif step.state == "RUNNING":
                    step.state = self.outcome(step)
                    if step.state == "COMPLETED" and step.args[0] == "bash":
                        _upload_empty_exports(step)
                    elif step.state == "COMPLETED" and step.args[0] == "hive-script":
                        _apply_hive_script(step)


def _apply_hive_script(step) -> None:
    from genre_assets_emulator.hive import run_script

    bucket, key = step.args[step.args.index("-f") + 1][5:].split("/", 1)
    s3 = boto3.client("s3", region_name=REGION)
    script = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    run_script(script, boto3.client("glue", region_name=REGION))


def _upload_empty_exports(step) -> None:
    uri = re.search(r"'(s3://[^']+)'", step.args[2]).group(1)
    bucket, key = uri[5:].split("/", 1)
    s3 = boto3.client("s3", region_name=REGION)
    script = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    for target in re.findall(r'tsv" (s3://\S+)', script):
        b, k = target[5:].split("/", 1)
        s3.put_object(Bucket=b, Key=k, Body=(TSV_HEADER + "\n").encode())


@pytest.fixture
def step_driver(monkeypatch):
    driver = StepDriver()
    monkeypatch.setattr(emr_cluster, "_sleep", driver)
    return driver


@contextlib.contextmanager
def refusing_endpoint() -> Iterator[str]:
    """`http://127.0.0.1:<port>` where nothing listens: the port is held (bound, not listening)
    for the block, so every connection is refused at once and no one else can take it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


class ListeningEndpoint:
    """A local TCP endpoint that accepts and counts connections (and closes them unanswered):
    a test points AWS_ENDPOINT_URL here to prove that no AWS call was even attempted."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def __enter__(self) -> ListeningEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()
