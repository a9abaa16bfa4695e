"""The orphaned-cluster janitor, the S3 lake and the Glue catalog against moto."""

import json
import time

import boto3
import dagster as dg
import pytest

from genre_assets.errors import ConfigurationError, InputError
from genre_assets.resources.aws.cluster_ownership import LEASE_TAG, format_time
from genre_assets.resources.aws.s3_lake import parse_s3_uri
from genre_assets.sensors.emr_janitor import emr_janitor
from genre_assets_tests.support.aws import (
    BUCKET,
    REGION,
    aws_resources,
    clusters,
    start_tagged_cluster,
)


def _cluster(emr, run_id=None, managed=True):
    tags = {"genre-assets:managed": "true", "genre-assets:deployment": "production"}
    if not managed:
        tags = {}
    if run_id:
        tags["dagster/run_id"] = run_id
    return start_tagged_cluster(emr, tags)


def test_janitor_terminates_clusters_of_ended_or_unknown_runs_only(aws_env):
    emr = boto3.client("emr", region_name=REGION)
    with dg.instance_for_test() as instance:
        live = instance.add_run(
            dg.DagsterRun(
                job_name="genre_films_job", run_id="live-run", status=dg.DagsterRunStatus.STARTED
            )
        )
        instance.add_run(
            dg.DagsterRun(
                job_name="genre_films_job", run_id="dead-run", status=dg.DagsterRunStatus.FAILURE
            )
        )
        keep = _cluster(emr, live.run_id)
        dead = _cluster(emr, "dead-run")
        unknown = _cluster(emr, "never-seen-run")
        foreign = _cluster(emr, "dead-run", managed=False)
        with dg.build_sensor_context(
            instance=instance,
            resources={"engine": aws_resources(deployment_name="production")["engine"]},
        ) as context:
            result = emr_janitor(context)
        states = {c.id: c.state for c in clusters()}
        assert states[dead] == "TERMINATED" and states[unknown] == "TERMINATED"
        assert states[keep] != "TERMINATED"
        assert states[foreign] != "TERMINATED"  # not ours: never touched
        assert result.skip_message == (
            "deployment production: terminated 2 cluster(s); 1 cluster(s) belong to live runs"
        )
        # The ended run's log names the cluster that was terminated for it.
        notes = [r.message for r in instance.all_logs("dead-run")]
        assert (
            f"emr_janitor: EMR cluster {dead} was terminated because its run is FAILURE." in notes
        )


def test_janitor_fails_a_live_run_whose_cluster_ended_after_its_lease_and_reports_it_once(aws_env):
    """A cluster its lease watchdog terminated (lease expired before it ended) means its run's
    process is gone: the run is marked failed, naming the cluster; a cluster its own run ended
    (lease still fresh) is nobody's business; nothing is reported twice."""
    emr = boto3.client("emr", region_name=REGION)
    now = time.time()
    with dg.instance_for_test() as instance:
        for run_id in ("orphaned-run", "tidy-run"):
            instance.add_run(
                dg.DagsterRun(
                    job_name="genre_films_job", run_id=run_id, status=dg.DagsterRunStatus.STARTED
                )
            )
        owned = {"genre-assets:managed": "true", "genre-assets:deployment": "production"}
        orphaned = start_tagged_cluster(
            emr,
            {**owned, "dagster/run_id": "orphaned-run", LEASE_TAG: format_time(now - 120)},
        )
        tidy = start_tagged_cluster(
            emr, {**owned, "dagster/run_id": "tidy-run", LEASE_TAG: format_time(now + 240)}
        )
        emr.terminate_job_flows(JobFlowIds=[orphaned, tidy])  # the watchdog, the run itself
        cursor = None
        for _tick in range(2):
            with dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={"engine": aws_resources(deployment_name="production")["engine"]},
            ) as context:
                result = emr_janitor(context)
                cursor = context.cursor
            if _tick == 0:
                assert "1 cluster(s) had ended after their lease or time limit" in (
                    result.skip_message
                )
            else:
                assert "had ended" not in result.skip_message
        run = instance.get_run_by_id("orphaned-run")
        assert run.status == dg.DagsterRunStatus.FAILURE
        (failure,) = instance.all_logs("orphaned-run", of_type=dg.DagsterEventType.RUN_FAILURE)
        assert f"EMR cluster {orphaned} was terminated at " in failure.message
        assert "lease expired at" in failure.message
        assert instance.get_run_by_id("tidy-run").status == dg.DagsterRunStatus.STARTED
        assert json.loads(cursor)["reported"].keys() == {orphaned}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("s3://genre-lake", ("genre-lake", "")), ("s3://genre-lake/a/b/", ("genre-lake", "a/b"))],
)
def test_parse_s3_uri(uri, expected):
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["genre-lake/x", "s3://Bad_Bucket/x", "s3://a/../x", "s3://ok-bucket/a\nb", "s3://x/"]
)
def test_parse_s3_uri_rejects_bad_lakes(uri):
    with pytest.raises((ConfigurationError, InputError)):
        parse_s3_uri(uri)


def test_s3_lake_lists_one_folder_reads_heads_and_writes(aws_env):
    with dg.build_resources(aws_resources()) as resources:
        lake = resources.lake
        lake.write_bytes("movielens/movies/.in-flight.tmp", b"x")
        lake.write_bytes("movielens/movies/nested/deeper.csv", b"x")
        (movies,) = lake.list_objects("movielens/movies/")
        assert movies.key == "movielens/movies/movies.csv" and movies.size > 100 and movies.version
        assert lake.read_head(movies.key, 20) == b"movieId,title,genres"
        assert lake.exists(movies.key) and not lake.exists("movielens/movies/none.csv")
        assert lake.uri("movielens/x.tsv") == "s3://genre-lake/data/movielens/x.tsv"
        assert lake.list_objects("movielens/nothing/") == []


def test_glue_catalog_reports_what_exists(aws_env):
    glue = boto3.client("glue", region_name=REGION)
    with dg.build_resources(aws_resources()) as resources:
        catalog = resources.catalog
        assert not catalog.database_exists() and catalog.list_tables() == []
        assert catalog.get_table("movies") is None
        glue.create_database(DatabaseInput={"Name": "movielens"})
        glue.create_table(
            DatabaseName="movielens",
            TableInput={
                "Name": "movies",
                "StorageDescriptor": {"Location": "s3://genre-lake/data/movielens/movies/"},
            },
        )
        assert catalog.database_exists() and catalog.list_tables() == ["movies"]
        assert catalog.get_table("movies").location == "s3://genre-lake/data/movielens/movies/"


def test_s3_lake_lists_past_one_page_and_versions_change_with_content(aws_env):
    """ListObjectsV2 answers 1,000 keys a page; a ratings folder of many drops must list whole.
    The version is the ETag, an opaque string (not always an MD5), compared as it is."""
    s3 = boto3.client("s3", region_name=REGION)
    for number in range(1005):
        s3.put_object(Bucket=BUCKET, Key=f"data/movielens/many/r{number:04d}.csv", Body=b"x")
    with dg.build_resources(aws_resources()) as resources:
        listed = resources.lake.list_objects("movielens/many/")
        assert len(listed) == 1005 and listed[-1].key == "movielens/many/r1004.csv"
        before = listed[0].version
        resources.lake.write_bytes("movielens/many/r0000.csv", b"y")
        assert resources.lake.list_objects("movielens/many/")[0].version != before
