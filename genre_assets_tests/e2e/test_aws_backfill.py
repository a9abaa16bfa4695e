"""The aws deployment under the real webserver and daemon, against `genre-assets emulate-aws`.

The emulator runs as its own process, as a user starts it; the webserver, the daemon, their code
servers and run workers reach it only through AWS_ENDPOINT_URL. A backfill of three genres must
be one run on one EMR cluster, and no cluster may be left running afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genre_assets_tests.e2e.aws_stack import (
    BUCKET,
    LAKE_URI,
    PREFIX,
    cluster_run_id,
    live_and_dead_clusters,
)
from genre_assets_tests.e2e.aws_stack import (
    aws_stack as running_aws_stack,
)
from genre_assets_tests.e2e.stack import (
    BACKFILL_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    SENSOR,
    TIMINGS,
    DagsterStack,
    sensor_selector,
    tags_of,
    wait_for_backfill,
)
from genre_assets_tests.reference import expected_tsv

pytestmark = pytest.mark.e2e

# Adjacent partitions, slugs written by hand (the README's contract).
GENRES = {"Crime": "crime", "Documentary": "documentary", "Drama": "drama"}
# No two of them neighbours in the vocabulary order.
APART = {"Comedy": "comedy", "Horror": "horror", "War": "war"}
GENRE_ASSETS = ["genre_film_export", "genre_film_table"]


@pytest.fixture(scope="module")
def aws_stack(tmp_path_factory: pytest.TempPathFactory, e2e_lake: Path):
    with running_aws_stack(tmp_path_factory.mktemp("aws_stack"), e2e_lake) as stack:
        yield stack


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
        clusters = live_and_dead_clusters(emr)
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
    assert sorted(cluster_run_id(c) for c in clusters) == sorted(r["runId"] for r in runs)


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
    (backfill_cluster,) = [c for c in clusters if cluster_run_id(c) == run["runId"]]
    steps = emr.list_steps(ClusterId=backfill_cluster["Id"])["Steps"]
    # (Steps that define missing source tables come first when this test runs alone.)
    assert [s["Name"] for s in reversed(steps)][-2:] == [
        "presto export of 3 genre(s)",
        "create 3 genre table(s)",
    ]
    assert {s["Status"]["State"] for s in steps} == {"COMPLETED"}
    _assert_exports_and_tables(s3, glue, e2e_lake, GENRES)
