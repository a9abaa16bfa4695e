"""The aws deployment end to end on `AwsEmulator`: real Hive DDL against Glue, a real shell step
with the aws CLI and the presto-cli (or trino-cli) stand-in, and exports byte-identical to the
local deployment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import dagster as dg
import pytest

from genre_assets import rendering
from genre_assets.definitions import build_definitions
from genre_assets.domain.genres import MOVIELENS_GENRES
from genre_assets.domain.schema import MOVIES, RATINGS
from genre_assets.domain.targets import genre_targets
from genre_assets.partitions import range_tags
from genre_assets.resources.aws import emr_cluster, glue_tables
from genre_assets.resources.aws.glue_tables import TableShape
from genre_assets_tests.support.aws import emulated_aws
from genre_assets_tests.support.local import FIXTURES, materialize_genres

BUCKET = "genre-lake"
PREFIX = "emulated"
LAKE = f"s3://{BUCKET}/{PREFIX}"
GENRES = ["Comedy", "Drama", "Sci-Fi"]
STEPS = [
    "create database movielens",
    "create movies table",
    "create ratings table",
    "presto export of 3 genre(s)",
    "create 3 genre table(s)",
]
AWS_CLI = str(Path(sys.executable).parent / "aws")


@pytest.fixture
def emulator(monkeypatch, tmp_path):
    """A running emulator with the aws deployment's environment pointing at it."""
    # The pipeline's calls are held to the shipped policy, scoped to this test's lake.
    with emulated_aws(monkeypatch, tmp_path, start_seconds=0.2, lake=LAKE) as aws:
        monkeypatch.setenv("GENRE_ASSETS_DEPLOYMENT", "aws")
        monkeypatch.setenv("GENRE_ASSETS_LAKE", LAKE)
        monkeypatch.setenv("GENRE_ASSETS_EMR_POLL_SECONDS", "1")
        monkeypatch.delenv("GENRE_ASSETS_DATABASE", raising=False)
        yield aws


def upload_golden_lake(folder: Path, ratings_text: str | None = None) -> None:
    """movies.csv through boto3, ratings.csv through the real `aws s3 cp` CLI."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    golden = FIXTURES / "golden_lake" / "movielens"
    s3.upload_file(
        str(golden / "movies" / "movies.csv"), BUCKET, f"{PREFIX}/movielens/movies/movies.csv"
    )
    ratings = golden / "ratings" / "ratings.csv"
    if ratings_text is not None:
        ratings = folder / "ratings.csv"
        ratings.write_text(ratings_text, encoding="utf-8")
    done = subprocess.run(
        [
            AWS_CLI,
            "s3",
            "cp",
            "--only-show-errors",
            str(ratings),
            f"{LAKE}/movielens/ratings/ratings.csv",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def run_genres(instance: dg.DagsterInstance, genres: list[str]) -> dg.ExecuteInProcessResult:
    job = build_definitions("aws").resolve_job_def("genre_films_job")
    return job.execute_in_process(
        instance=instance, tags=range_tags(genres[0], genres[-1]), raise_on_error=False
    )


def clusters_by_age() -> list[dict]:
    emr = boto3.client("emr")
    found = [
        emr.describe_cluster(ClusterId=c["Id"])["Cluster"] for c in emr.list_clusters()["Clusters"]
    ]
    return sorted(found, key=lambda c: c["Status"]["Timeline"]["CreationDateTime"])


def step_names(cluster_id: str) -> list[str]:
    steps = boto3.client("emr").list_steps(ClusterId=cluster_id)["Steps"]  # newest first
    return [s["Name"] for s in reversed(steps)]


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    texts = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
    return "\n".join(texts)


def wait_until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_every_genre_in_one_run_matches_the_local_deployment_byte_for_byte(
    emulator,
    golden_lake,
    tmp_path,
    instance,
):
    # Every MovieLens genre, `(no genres listed)` included, plus `Children's` of older releases:
    # genre keys with brackets, spaces and quotes in tags, SQL and paths.
    genres = [*MOVIELENS_GENRES, "Children's"]
    steps = [
        *STEPS[:3],
        f"presto export of {len(genres)} genre(s)",
        f"create {len(genres)} genre table(s)",
    ]
    upload_golden_lake(tmp_path)
    instance.add_dynamic_partitions("genre", genres)
    emulator.api.clear()

    started = time.perf_counter()
    result = run_genres(instance, genres)
    elapsed = time.perf_counter() - started
    assert result.success, failure_text(result)
    calls = emulator.api.counts("pipeline")
    print(
        f"\nemulated {len(genres)}-genre run: {elapsed:.1f} s; pipeline API calls: {dict(sorted(calls.items()))}"
    )

    # One cluster for the whole run, with exactly the engine's steps, and it is gone now.
    (cluster,) = clusters_by_age()
    assert cluster["Status"]["State"] == "TERMINATED"
    assert step_names(cluster["Id"]) == steps
    emr = boto3.client("emr")
    assert {s["Status"]["State"] for s in emr.list_steps(ClusterId=cluster["Id"])["Steps"]} == {
        "COMPLETED"
    }
    assert calls["elasticmapreduce:RunJobFlow"] == 1
    assert calls["elasticmapreduce:TerminateJobFlows"] == 1
    assert calls["elasticmapreduce:AddJobFlowSteps"] == len(steps)
    assert {key.split(":")[0] for key in calls} <= {"s3", "glue", "elasticmapreduce"}

    # The exports equal, byte for byte, what the local deployment writes for the same CSVs.
    local = materialize_genres(golden_lake, genres)
    assert local.success
    s3 = boto3.client("s3")
    for target in genre_targets(genres):
        remote = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{target.export_key}")["Body"].read()
        assert remote == (golden_lake / target.export_key).read_bytes(), target.name
    assert (
        b"Back\\\\slash"
        in s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/movielens/drama/drama_films.tsv")[
            "Body"
        ].read()
    )

    # Glue holds the database and every table, over the right folders, as the engine defines them.
    glue = boto3.client("glue")
    glue.get_database(Name="movielens")
    expected = {
        "movies": (MOVIES, f"{LAKE}/movielens/movies/"),
        "ratings": (RATINGS, f"{LAKE}/movielens/ratings/"),
        **{t.table: (t.table_spec(), f"{LAKE}/{t.export_folder}") for t in genre_targets(genres)},
    }
    assert {t["Name"] for t in glue.get_tables(DatabaseName="movielens")["TableList"]} == set(
        expected
    )
    assert set(expected) >= {"comedy_films", "no_genres_listed_films", "children_s_films"}
    # No IAM denial and no refused EMR request in the whole run.
    assert emulator.api.denials() == [] and emulator.api.invalid_requests() == []
    for name, (spec, location) in expected.items():
        table = glue.get_table(DatabaseName="movielens", Name=name)["Table"]
        assert glue_tables.same_location(table["StorageDescriptor"]["Location"], location), name
        assert glue_tables.matches(table, TableShape.of_spec(spec, location)), name

    # The step logs are where the engine's failure messages say they are.
    prefix = f"{PREFIX}/emr-logs/{cluster['Id']}/steps/"
    logs = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    assert len([o for o in logs if o["Key"].endswith("/stderr.gz")]) == len(steps)

    # A second run of the same genres: a new cluster, no Hive DDL step for the source tables
    # (nor for the genre tables, which match too), and the same bytes.
    emulator.api.clear()
    second = run_genres(instance, genres)
    assert second.success, failure_text(second)
    first, again = clusters_by_age()
    assert first["Id"] == cluster["Id"]
    assert step_names(again["Id"]) == [steps[3]]
    assert wait_until(lambda: all(c["Status"]["State"] == "TERMINATED" for c in clusters_by_age()))
    for target in genre_targets(genres):
        remote = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{target.export_key}")["Body"].read()
        assert remote == (golden_lake / target.export_key).read_bytes(), target.name
    assert emulator.api.counts("pipeline")["elasticmapreduce:AddJobFlowSteps"] == 1


def test_a_trino_cluster_writes_the_exports_a_presto_cluster_writes_byte_for_byte(
    emulator,
    tmp_path,
    instance,
    monkeypatch,
):
    """GENRE_ASSETS_EMR_SQL_ENGINE=trino: the same genres on a Trino cluster (trino-cli, the
    trino-connector-hive classification, and the rating aggregates filled by Trino's INSERT) give
    the bytes the PrestoDB cluster gave."""
    upload_golden_lake(tmp_path)
    instance.add_dynamic_partitions("genre", GENRES)
    s3 = boto3.client("s3")
    keys = [f"{PREFIX}/{t.export_key}" for t in genre_targets(GENRES)]

    presto = run_genres(instance, GENRES)
    assert presto.success, failure_text(presto)
    from_presto = {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key} for key in keys]})

    monkeypatch.setenv("GENRE_ASSETS_EMR_SQL_ENGINE", "trino")
    monkeypatch.setenv("GENRE_ASSETS_EMR_COLUMNAR_CACHE", "1")
    trino = run_genres(instance, GENRES)
    assert trino.success, failure_text(trino)
    first, cluster = clusters_by_age()
    assert {a["Name"] for a in first["Applications"]} == {"Hadoop", "Hive", "Presto"}
    assert {a["Name"] for a in cluster["Applications"]} == {"Hadoop", "Hive", "Trino"}
    (connector,) = [
        c for c in cluster["Configurations"] if c["Classification"] == "trino-connector-hive"
    ]
    assert connector["Properties"]["hive.non-managed-table-writes-enabled"] == "true"
    # The source tables stand; Trino fills the aggregate Hive defined, then reads it for the
    # export.
    assert step_names(cluster["Id"]) == [
        "define rating aggregates",
        "fill 1 rating aggregate(s), remove 0",
        "trino export of 3 genre(s)",
    ]
    scripts = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/scripts/{trino.run_id}/")
    (query,) = [
        k["Key"] for k in scripts["Contents"] if k["Key"].endswith(".sql") and "genre-" in k["Key"]
    ]
    assert ".rating_agg_" in s3.get_object(Bucket=BUCKET, Key=query)["Body"].read().decode()
    assert {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys} == (
        from_presto
    )
    assert emulator.api.denials() == [] and emulator.api.invalid_requests() == []
    assert wait_until(lambda: all(c["Status"]["State"] == "TERMINATED" for c in clusters_by_age()))


def test_a_failing_presto_step_fails_the_run_with_its_reason_and_leaves_no_cluster(
    emulator,
    tmp_path,
    instance,
    monkeypatch,
):
    upload_golden_lake(tmp_path)
    instance.add_dynamic_partitions("genre", GENRES)
    # A query Presto rejects, uploaded and run exactly as the real one is.
    monkeypatch.setattr(
        rendering,
        "presto_genre_query",
        lambda *args, **kwargs: "SELECT no_such_column FROM movies;\n",
    )

    result = run_genres(instance, GENRES)
    assert not result.success
    message = failure_text(result)
    assert "presto export of 3 genre(s)" in message
    assert "ended FAILED" in message
    # The step's own reason: presto-cli's error, as the step's stderr shows it.
    assert "Query " in message and "no_such_column" in message
    failed = [
        e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    assert failed == ["genre_film_export"]

    (cluster,) = clusters_by_age()
    assert step_names(cluster["Id"]) == STEPS[:4]
    assert wait_until(lambda: emr_cluster.managed_live_clusters(boto3.client("emr")) == [])
    assert clusters_by_age()[0]["Status"]["State"] == "TERMINATED"
    # The half-written exports never reached the lake.
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/movielens/drama/")
    assert listed.get("KeyCount", 0) == 0


# -- the command line ------------------------------------------------------------------------
def _cli_env() -> dict[str, str]:
    # The emulator's environment (set by the fixture), without a DAGSTER_HOME to write into.
    return {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}


def _aws_cli(*args: str) -> None:
    done = subprocess.run(
        [AWS_CLI, *args], capture_output=True, text=True, env=_cli_env(), timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_cli_materialize_against_the_emulator_with_a_lake_uploaded_by_the_aws_cli(emulator):
    from genre_assets_tests.test_golden import EXPECTED

    _aws_cli("s3", "mb", f"s3://{BUCKET}")
    _aws_cli(
        "s3",
        "cp",
        "--recursive",
        "--only-show-errors",
        str(FIXTURES / "golden_lake" / "movielens"),
        f"{LAKE}/movielens",
    )
    done = subprocess.run(
        [sys.executable, "-m", "genre_assets.cli", "materialize", "--genre", "Drama", "--quiet"],
        capture_output=True,
        text=True,
        env=_cli_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{LAKE}/movielens/drama/drama_films.tsv" in done.stdout
    body = (
        boto3.client("s3")
        .get_object(Bucket=BUCKET, Key=f"{PREFIX}/movielens/drama/drama_films.tsv")["Body"]
        .read()
    )
    assert body == EXPECTED["drama"].encode("utf-8")
    (cluster,) = clusters_by_age()
    assert cluster["Status"]["State"] == "TERMINATED"
    assert step_names(cluster["Id"])[-2:] == [
        "presto export of 1 genre(s)",
        "create 1 genre table(s)",
    ]


def test_the_emr_columnar_cache_is_built_once_reused_and_rebuilt_when_ratings_change(
    emulator,
    golden_lake,
    tmp_path,
    monkeypatch,
    instance,
):
    """GENRE_ASSETS_EMR_COLUMNAR_CACHE=1: the per-file rating aggregates. PrestoDB cannot CREATE
    TABLE AS into the lake, so Hive defines each file's table and Presto's INSERT fills it from
    that file alone; unchanged files are never read again, a changed one alone is (the emulated
    engine's log of fetched objects), and its stale aggregate goes (added and removed files:
    test_rating_aggregates_on_emr.py)."""
    from genre_assets_emulator import presto_cli
    from genre_assets_tests.emulator import test_rating_aggregates_on_emr as aggregates

    monkeypatch.setenv("GENRE_ASSETS_EMR_COLUMNAR_CACHE", "1")
    log = tmp_path / "query-reads.jsonl"
    monkeypatch.setenv(presto_cli.READS_LOG_ENV, str(log))
    upload_golden_lake(tmp_path)
    instance.add_dynamic_partitions("genre", GENRES)
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    golden = (FIXTURES / "golden_lake/movielens/ratings/ratings.csv").read_text()

    first = run_genres(instance, GENRES)
    assert first.success, failure_text(first)
    (cluster,) = clusters_by_age()
    assert step_names(cluster["Id"]) == (
        STEPS[:3] + ["define rating aggregates", "fill 1 rating aggregate(s), remove 0"] + STEPS[3:]
    )
    assert aggregates._raw_ratings_read(log) == {"ratings.csv": len(golden.encode())}
    (table,) = aggregates._aggregate_tables()
    location = glue.get_table(DatabaseName="movielens", Name=table)["Table"]["StorageDescriptor"][
        "Location"
    ]
    assert location.startswith(f"{LAKE}/_cache/rating_aggregates/")
    marker = location.removeprefix(f"s3://{BUCKET}/").rstrip("/") + "/_GENRE_ASSETS_COMPLETE"
    assert s3.get_object(Bucket=BUCKET, Key=marker)["Body"].read() == b"complete\n"
    # The exports read from the aggregates equal the local deployment's, byte for byte.
    expected = aggregates.local_exports(golden_lake, {})
    assert aggregates._exports() == expected

    # Unchanged files: no aggregate step, not one byte of raw ratings read, the same bytes.
    second = run_genres(instance, GENRES)
    assert second.success, failure_text(second)
    assert step_names(clusters_by_age()[-1]["Id"]) == ["presto export of 3 genre(s)"]
    assert aggregates._raw_ratings_read(log) == {}
    assert aggregates._aggregate_tables() == [table]
    assert aggregates._exports() == expected

    # A changed ratings file: it alone is read again, under a new table; the stale one goes.
    changed = golden + "9,5,5.0,964982703\n"
    upload_golden_lake(tmp_path, ratings_text=changed)
    third = run_genres(instance, GENRES)
    assert third.success, failure_text(third)
    assert "fill 1 rating aggregate(s), remove 1" in step_names(clusters_by_age()[-1]["Id"])
    assert aggregates._raw_ratings_read(log) == {"ratings.csv": len(changed.encode())}
    (new_table,) = aggregates._aggregate_tables()
    assert new_table != table
    assert aggregates._aggregate_folders() == {new_table.removeprefix("rating_agg_")}
    sci_fi = genre_targets(["Sci-Fi"])[0].export_key
    assert aggregates._exports()[sci_fi] != expected[sci_fi]
    (golden_lake / "movielens/ratings/ratings.csv").write_text(changed, encoding="utf-8")
    assert aggregates._exports() == aggregates.local_exports(golden_lake, {})
    assert wait_until(lambda: all(c["Status"]["State"] == "TERMINATED" for c in clusters_by_age()))
