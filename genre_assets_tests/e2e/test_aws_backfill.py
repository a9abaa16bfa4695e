"""The aws deployment under the real webserver and daemon, against `genre-assets emulate-aws`.

The emulator runs as its own process, as a user starts it; the webserver, the daemon, their code
servers and run workers reach it only through AWS_ENDPOINT_URL. A backfill of three genres must
be one run on one EMR cluster, and no cluster may be left running afterwards.
"""

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
import pytest
from botocore.config import Config

from genre_assets.resources.aws.emr_cluster import RUN_ID_TAG
from genre_assets_emulator.middleware import HARNESS_USER_AGENT
from genre_assets_emulator.steps import FAKE_CREDENTIALS
from genre_assets_tests.e2e.conftest import _register_genres
from genre_assets_tests.e2e.stack import (
    BACKFILL_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    SENSOR,
    TIMINGS,
    DagsterStack,
    free_port,
    running_stack,
    sensor_selector,
    stop_process_group,
    tags_of,
    wait_for_backfill,
)
from genre_assets_tests.reference import expected_tsv
from genre_assets_tests.support.aws import IAM_POLICY

pytestmark = pytest.mark.e2e

BUCKET = "e2e-lake"
PREFIX = "lake"
LAKE_URI = f"s3://{BUCKET}/{PREFIX}"
# Adjacent partitions, slugs written by hand (the README's contract).
GENRES = {"Crime": "crime", "Documentary": "documentary", "Drama": "drama"}
# No two of them neighbours in the vocabulary order.
APART = {"Comedy": "comedy", "Horror": "horror", "War": "war"}
GENRE_ASSETS = ["genre_film_export", "genre_film_table"]


@contextlib.contextmanager
def emulator_process(root: Path) -> Iterator[dict[str, str]]:
    """`genre-assets emulate-aws` on a free port, holding the pipeline to the shipped IAM policy
    for this lake; yields the environment that points at it."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = root / "emulator.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENRE_ASSETS_"))}
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
                "1",
                "--lake",
                LAKE_URI,
                "--iam-policy",
                str(IAM_POLICY),
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


def _clients(env: dict[str, str]):
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


def _clusters(emr) -> list[dict]:
    return [
        emr.describe_cluster(ClusterId=c["Id"])["Cluster"] for c in emr.list_clusters()["Clusters"]
    ]


def _cluster_run_id(cluster: dict) -> str:
    return {t["Key"]: t["Value"] for t in cluster.get("Tags", [])}.get(RUN_ID_TAG, "")


@pytest.fixture(scope="module")
def aws_stack(tmp_path_factory: pytest.TempPathFactory, e2e_lake: Path):
    root = tmp_path_factory.mktemp("aws_stack")
    with emulator_process(root) as aws_env:
        s3, emr, glue = _clients(aws_env)
        for path in sorted((e2e_lake / "movielens").rglob("*.csv")):
            key = f"{PREFIX}/{path.relative_to(e2e_lake).as_posix()}"
            s3.upload_file(str(path), BUCKET, key)
        deployment = {
            "GENRE_ASSETS_DEPLOYMENT": "aws",
            "GENRE_ASSETS_LAKE": LAKE_URI,
            "GENRE_ASSETS_EMR_POLL_SECONDS": "1",
            # Never the developer's own AWS configuration: the emulator's fake credentials only.
            "AWS_CONFIG_FILE": str(root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-aws-credentials"),
            **aws_env,
        }
        with running_stack(root, LAKE_URI, _register_genres, deployment_env=deployment) as stack:
            yield stack, s3, emr, glue


def _assert_exports_and_tables(s3, glue, lake: Path, genres: dict[str, str]) -> None:
    """The exports in S3 follow the contract byte for byte; Glue has a table per genre."""
    for genre, slug in genres.items():
        key = f"{PREFIX}/movielens/{slug}/{slug}_films.tsv"
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        expected = expected_tsv(lake, genre).encode("utf-8")
        assert expected.count(b"\n") > 1, f"the sample lake has no rated {genre} film"
        assert body == expected, genre
        table = glue.get_table(DatabaseName="movielens", Name=f"{slug}_films")["Table"]
        assert table["StorageDescriptor"]["Location"].rstrip("/") == f"{LAKE_URI}/movielens/{slug}"


def _wait_all_terminated(stack: DagsterStack, emr) -> list[dict]:
    def all_terminated():
        clusters = _clusters(emr)
        return clusters if all(c["Status"]["State"] == "TERMINATED" for c in clusters) else None

    return stack.wait_for("every cluster to be TERMINATED", all_terminated, timeout=60)


def test_fresh_lake_backfill_of_non_adjacent_genres_selecting_only_genre_assets(
    aws_stack, e2e_lake
):
    """A new user's first action on the aws deployment: no database in Glue, no source tables,
    three genres of the two genre assets selected in the UI."""
    stack, s3, emr, glue = aws_stack
    stack: DagsterStack
    assert not glue.get_databases()["DatabaseList"], "this test must meet a fresh catalog"

    started = time.monotonic()
    backfill_id = stack.launch_backfill(GENRE_ASSETS, list(APART))
    backfill = wait_for_backfill(stack, backfill_id, timeout=360)
    TIMINGS["aws fresh lake: backfill of 3 non-adjacent genres, genre assets only"] = (
        time.monotonic() - started
    )
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    runs = stack.runs({BACKFILL_TAG: backfill_id})
    assert runs and {r["status"] for r in runs} == {"SUCCESS"}, runs
    _assert_exports_and_tables(s3, glue, e2e_lake, APART)
    assert {"movies", "ratings"} <= {
        t["Name"] for t in glue.get_tables(DatabaseName="movielens")["TableList"]
    }
    # One cluster per run, every one of them terminated.
    clusters = _wait_all_terminated(stack, emr)
    assert sorted(_cluster_run_id(c) for c in clusters) == sorted(r["runId"] for r in runs)


def test_aws_backfill_of_three_genres_uses_one_cluster_and_leaves_none_running(aws_stack, e2e_lake):
    stack, s3, emr, glue = aws_stack
    stack: DagsterStack

    # The janitor is part of the aws code location and on by default.
    janitor = stack.gql(SENSOR, {"selector": sensor_selector("emr_janitor")})["sensorOrError"]
    assert janitor["__typename"] == "Sensor", janitor
    assert janitor["sensorState"]["status"] == "RUNNING"

    genres = list(GENRES)
    started = time.monotonic()
    backfill_id = stack.launch_backfill(GENRE_ASSETS, genres)
    wait_for_backfill(stack, backfill_id, timeout=240)
    elapsed = time.monotonic() - started
    runs = stack.runs({BACKFILL_TAG: backfill_id})
    TIMINGS[
        f"aws backfill of 3 genres on the emulator, {len(runs)} run(s): launch -> completed"
    ] = elapsed
    assert len(runs) == 1, runs
    (run,) = runs
    assert run["status"] == "SUCCESS"
    tags = tags_of(run)
    assert (tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)) == (genres[0], genres[-1]), tags

    # One cluster for the run, tagged with it, terminated once the run is over.
    clusters = _wait_all_terminated(stack, emr)
    (backfill_cluster,) = [c for c in clusters if _cluster_run_id(c) == run["runId"]]
    steps = emr.list_steps(ClusterId=backfill_cluster["Id"])["Steps"]
    # (Steps that define missing source tables come first when this test runs alone.)
    assert [s["Name"] for s in reversed(steps)][-2:] == [
        "presto export of 3 genre(s)",
        "create 3 genre table(s)",
    ]
    assert {s["Status"]["State"] for s in steps} == {"COMPLETED"}
    _assert_exports_and_tables(s3, glue, e2e_lake, GENRES)
