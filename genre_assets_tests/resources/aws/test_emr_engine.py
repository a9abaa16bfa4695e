"""The EMR engine against moto: the cluster it asks for (with PrestoDB or Trino), its steps,
bounded waits, and that the cluster is terminated on success, step failure, cluster failure,
time-out and cancellation."""

import re

import boto3
import dagster as dg
import pytest
from dagster._core.errors import DagsterExecutionInterruptedError

from genre_assets.assets import ALL_ASSETS
from genre_assets.domain.schema import MOVIES, RATINGS
from genre_assets.domain.targets import genre_targets
from genre_assets.errors import ConfigurationError, EngineError
from genre_assets.partitions import range_tags
from genre_assets.resources.aws import emr_cluster, glue_tables
from genre_assets_emulator.tables import table_input
from genre_assets_tests.support.aws import LAKE_URI, REGION, StepDriver, aws_resources, clusters

GENRES = ["Comedy", "Drama", "Children's"]


def _materialize(resources, genres=GENRES, instance=None):
    if instance is None:
        with dg.DagsterInstance.ephemeral() as owned:
            return _materialize(resources, genres, instance=owned)
    instance.add_dynamic_partitions("genre", genres)
    return dg.materialize(
        ALL_ASSETS,
        resources=resources,
        instance=instance,
        tags=range_tags(genres[0], genres[-1]),
        raise_on_error=False,
    )


def _failure_message(result) -> str:
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def test_job_flow_request_covers_the_original_cluster_and_is_overridable(aws_env):
    engine = aws_resources(
        job_flow_overrides='{"ReleaseLabel": "emr-7.5.0", "Instances": {"Ec2KeyName": "ops"}}',
        tags={"team": "data"},
    )["engine"]
    request = engine.job_flow_request()
    assert request["ReleaseLabel"] == "emr-7.5.0"
    assert request["Instances"]["Ec2KeyName"] == "ops"
    # The override merged into Instances instead of replacing it.
    fleets = {f["InstanceFleetType"]: f for f in request["Instances"]["InstanceFleets"]}
    assert fleets["CORE"]["TargetSpotCapacity"] == 2
    assert (
        fleets["CORE"]["LaunchSpecifications"]["SpotSpecification"]["TimeoutAction"]
        == "SWITCH_TO_ON_DEMAND"
    )
    assert request["AutoTerminationPolicy"]["IdleTimeout"] == 1800
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    # Hive and Presto only: the original installed Spark and never used it.
    assert {a["Name"] for a in request["Applications"]} == {"Hadoop", "Hive", "Presto"}
    classifications = {c["Classification"] for c in request["Configurations"]}
    assert classifications == {"hive-site", "presto-connector-hive"}
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["genre-assets:managed"] == "true" and tags["team"] == "data"
    assert request["LogUri"] == f"{LAKE_URI}/emr-logs/"
    # moto accepts the request as EMR would.
    boto3.client("emr", region_name=REGION).run_job_flow(**request)


@pytest.mark.parametrize("cache", [0, 1])
def test_presto_may_write_outside_managed_tables_only_when_the_columnar_cache_is_on(aws_env, cache):
    request = aws_resources(columnar_cache=cache)["engine"].job_flow_request()
    (presto,) = [
        c for c in request["Configurations"] if c["Classification"] == "presto-connector-hive"
    ]
    assert presto["Properties"]["hive.metastore"] == "glue"
    assert ("hive.non-managed-table-writes-enabled" in presto["Properties"]) == bool(cache)
    # PrestoDB on EMRFS would stage each INSERT under <bucket>/tmp/presto-<user>/ first.
    assert presto["Properties"].get("hive.temporary-staging-directory-enabled") == (
        "false" if cache else None
    )


def test_a_three_genre_run_uses_one_cluster_and_terminates_it(aws_env, step_driver):
    result = _materialize(aws_resources())
    assert result.success
    (cluster,) = clusters()
    assert cluster.state == "TERMINATED"
    assert [s.name for s in cluster.steps] == [
        "create database movielens",
        "create movies table",
        "create ratings table",
        "presto export of 3 genre(s)",
        "create 3 genre table(s)",
    ]
    tags = dict(cluster._tags)
    assert tags["dagster/run_id"] == result.run_id
    # EMR tag values allow letters, digits, spaces and _ . : / = + - @ only.
    assert tags["dagster/partitions"] == "Comedy...Children_s"
    # Scripts sit under an immutable per-run prefix.
    s3 = boto3.client("s3", region_name=REGION)
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket="genre-lake", Prefix="data/scripts/")["Contents"]
    ]
    assert keys and all(k.startswith(f"data/scripts/{result.run_id}/") for k in keys)
    export = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey("genre_film_export")
    ][0].event_specific_data.materialization
    assert export.metadata["emr_cluster_id"].value == cluster.id
    assert "emr_estimated_cost_usd" in export.metadata
    # A link in the UI, not text to copy.
    assert isinstance(export.metadata["emr_console_url"], dg.UrlMetadataValue)
    assert export.metadata["emr_console_url"].value.endswith(f"#/clusterDetails/{cluster.id}")


def test_hive_steps_are_skipped_when_glue_already_matches(aws_env, step_driver):
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "movielens"})
    for spec in (MOVIES, RATINGS):
        shape = glue_tables.TableShape.of_spec(spec, f"{LAKE_URI}/{spec.folder}")
        glue.create_table(DatabaseName="movielens", TableInput=table_input(spec.name, shape))
    # A stale definition (wrong location) is replaced, not trusted.
    (comedy, drama, children) = genre_targets(GENRES)
    stale = glue_tables.TableShape.of_spec(comedy.table_spec(), "s3://elsewhere/comedy/")
    glue.create_table(DatabaseName="movielens", TableInput=table_input(comedy.table, stale))
    result = _materialize(aws_resources())
    assert result.success
    (cluster,) = clusters()
    assert [s.name for s in cluster.steps] == [
        "presto export of 3 genre(s)",
        "create 3 genre table(s)",
    ]
    hql = (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket="genre-lake", Key=cluster.steps[1].args[4].split("genre-lake/", 1)[1])[
            "Body"
        ]
        .read()
        .decode()
    )
    assert "comedy_films" in hql and "children_s_films" in hql


def test_no_cluster_is_started_when_nothing_needs_one(aws_env, step_driver):
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "movielens"})
    with dg.build_resources(aws_resources()) as resources:
        metadata = resources.engine.create_database(dg.get_dagster_logger())
    assert metadata == {"hive_step": "skipped: database exists"}
    assert clusters() == []


def test_a_failed_step_fails_the_run_with_its_reason_and_logs(aws_env, monkeypatch):
    from genre_assets.resources.aws import emr_cluster

    def fail_export(step):
        if step.args[0] == "bash":
            step.last_state_change_reason = (
                "presto-cli: Query failed: line 1: Cannot cast 'abc' to DOUBLE"
            )
            return "FAILED"
        return "COMPLETED"

    monkeypatch.setattr(emr_cluster, "_sleep", StepDriver(outcome=fail_export))
    result = _materialize(aws_resources())
    assert not result.success
    message = _failure_message(result)
    assert "Cannot cast 'abc' to DOUBLE" in message
    assert "Step logs: s3://genre-lake/data/emr-logs/" in message
    assert all(c.state == "TERMINATED" for c in clusters())


def test_a_cluster_that_fails_to_start_is_reported(aws_env, monkeypatch):
    from genre_assets.resources.aws import emr_cluster

    def break_cluster():
        for cluster in clusters():
            cluster.state = "TERMINATED_WITH_ERRORS"
            cluster.last_state_change_reason = "The requested instance type is not available (spot)"

    # Steps stay PENDING while the cluster dies.
    monkeypatch.setattr(
        emr_cluster, "_sleep", StepDriver(outcome=lambda s: "RUNNING", on_poll=break_cluster)
    )
    with dg.build_resources(aws_resources()) as resources:
        with pytest.raises(
            EngineError, match="TERMINATED_WITH_ERRORS.*instance type is not available"
        ):
            resources.engine.create_database(dg.get_dagster_logger())
    assert all(c.state.startswith("TERMINATED") for c in clusters())


def test_a_step_that_outlives_its_time_limit_ends_the_cluster(aws_env, monkeypatch):
    from genre_assets.resources.aws import emr_cluster

    monkeypatch.setattr(emr_cluster, "_sleep", StepDriver(outcome=lambda s: "RUNNING"))
    with dg.build_resources(aws_resources(step_timeout_seconds=0)) as resources:
        with pytest.raises(EngineError, match="did not finish within 0 s"):
            resources.engine.create_database(dg.get_dagster_logger())
        assert clusters()[0].state == "TERMINATED"


def test_cancellation_during_a_step_terminates_the_cluster(aws_env, monkeypatch):
    from genre_assets.resources.aws import emr_cluster

    def interrupt(_seconds):
        raise DagsterExecutionInterruptedError("terminated from the UI")

    monkeypatch.setattr(emr_cluster, "_sleep", interrupt)
    with dg.build_resources(aws_resources()) as resources:
        with pytest.raises(DagsterExecutionInterruptedError):
            resources.engine.create_database(dg.get_dagster_logger())
        # Terminated by the wait itself, before the resource's teardown runs.
        assert clusters()[0].state == "TERMINATED"


def test_teardown_terminates_a_cluster_left_by_a_successful_run(aws_env, step_driver):
    with dg.build_resources(aws_resources()) as resources:
        resources.engine.create_database(dg.get_dagster_logger())
        assert clusters()[0].state != "TERMINATED"
    assert clusters()[0].state == "TERMINATED"


def test_a_cache_table_is_reused_only_once_its_insert_marked_it_complete(aws_env):
    """A failed INSERT leaves a defined table over partial files: never read it as an aggregate."""
    engine = aws_resources(columnar_cache=1)["engine"]
    (aggregate,) = engine._rating_aggregates()
    spec = aggregate.spec
    assert aggregate.source.key == "movielens/ratings/ratings.csv"
    assert spec.name.startswith("rating_agg_") and spec.folder.endswith("/local-run/")
    location = f"{LAKE_URI}/{spec.folder}"
    assert not engine._is_complete(spec)
    # An earlier run's folder of the same file version, defined in Glue but not (yet) complete.
    earlier = location.replace("/local-run/", "/an-earlier-run/")
    boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": "movielens"})
    boto3.client("glue", region_name=REGION).create_table(
        DatabaseName="movielens",
        TableInput=table_input(spec.name, glue_tables.TableShape.of_spec(spec, earlier)),
    )
    assert not engine._is_complete(spec)
    bucket, key = earlier.removeprefix("s3://").split("/", 1)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=bucket, Key=key + "_GENRE_ASSETS_COMPLETE", Body=b"complete\n"
    )
    assert engine._is_complete(spec)


def test_an_aggregate_is_named_after_its_files_key_etag_and_size(aws_env):
    engine = aws_resources(columnar_cache=1)["engine"]
    (before,) = engine._rating_aggregates()
    s3 = boto3.client("s3", region_name=REGION)
    key = "data/movielens/ratings/ratings.csv"
    body = s3.get_object(Bucket="genre-lake", Key=key)["Body"].read()
    s3.put_object(Bucket="genre-lake", Key=key, Body=body)  # same bytes: same ETag and size
    assert [a.spec.name for a in engine._rating_aggregates()] == [before.spec.name]
    s3.put_object(Bucket="genre-lake", Key=key, Body=body + b"9,1,4.0,1\n")
    (changed,) = engine._rating_aggregates()
    assert changed.spec.name != before.spec.name


def _markers_too(monkeypatch):
    """The step driver's shell steps also write the completion markers their script names (as
    the real fill step does once each INSERT succeeded)."""
    from genre_assets_tests.support import aws as support

    upload_exports = support._upload_empty_exports

    def complete(step) -> None:
        upload_exports(step)
        s3 = boto3.client("s3", region_name=REGION)
        for uri in re.findall(
            r"aws s3 cp --only-show-errors - '?(s3://[^'\s]+)", _shell_script(step)
        ):
            bucket, key = uri[5:].split("/", 1)
            s3.put_object(Bucket=bucket, Key=key, Body=b"complete\n")

    monkeypatch.setattr(support, "_upload_empty_exports", complete)


def _run_and_list_steps(resources) -> list:
    """Materialize every asset; the steps of the cluster the run started."""
    before = {c.id for c in clusters()}
    assert _materialize(resources).success
    (cluster,) = [c for c in clusters() if c.id not in before]
    return list(cluster.steps)


def _step(steps: list, prefix: str):
    (step,) = [s for s in steps if s.name.startswith(prefix)]
    return step


def _script_of(step) -> str:
    if step.args[0] == "bash":
        return _shell_script(step)
    bucket, key = step.args[step.args.index("-f") + 1][5:].split("/", 1)
    s3 = boto3.client("s3", region_name=REGION)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def _fill_sqls(script: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    texts = []
    for uri in re.findall(r"aws s3 cp --only-show-errors '?(s3://[^'\s]+\.sql)", script):
        bucket, key = uri[5:].split("/", 1)
        texts.append(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    return texts


def _export_query(step) -> str:
    (uri,) = re.findall(r"aws s3 cp --only-show-errors '?(s3://[^'\s]+\.sql)", _shell_script(step))
    bucket, key = uri[5:].split("/", 1)
    s3 = boto3.client("s3", region_name=REGION)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def _aggregate_tables() -> list[str]:
    glue = boto3.client("glue", region_name=REGION)
    names = [t["Name"] for t in glue.get_tables(DatabaseName="movielens")["TableList"]]
    return sorted(n for n in names if n.startswith("rating_agg_"))


def _aggregate_objects() -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket="genre-lake", Prefix="data/_cache/rating_aggregates/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_rating_aggregates_are_built_per_new_file_reused_and_dropped_with_their_file(
    aws_env, step_driver, monkeypatch
):
    """GENRE_ASSETS_EMR_COLUMNAR_CACHE=1: one aggregate table per ratings file version, filled by
    an INSERT that reads that file alone ("$path"), reused while the file is unchanged; the
    genre query reads their union; a removed or changed file's aggregate is dropped (table and
    objects)."""
    _markers_too(monkeypatch)
    resources = aws_resources(columnar_cache=1)
    s3 = boto3.client("s3", region_name=REGION)
    ratings = "s3://genre-lake/data/movielens/ratings/"

    # First run: the one ratings file is aggregated, then the query reads its aggregate.
    steps = _run_and_list_steps(resources)
    hive, fill = _step(steps, "define rating aggregates"), _step(steps, "fill ")
    assert hive.args[0] == "hive-script"
    assert fill.name == "fill 1 rating aggregate(s), remove 0"
    (first,) = _aggregate_tables()
    assert f"CREATE EXTERNAL TABLE movielens.{first} (" in _script_of(hive)
    assert "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet" in _script_of(hive)
    (sql,) = _fill_sqls(_script_of(fill))
    assert f"WHERE \"$path\" = '{ratings}ratings.csv'" in sql
    assert f"INSERT INTO movielens.{first}\n" in sql
    query = _export_query(_step(steps, "presto export"))
    assert f"FROM movielens.{first}" in query and "FROM movielens.ratings" not in query

    # Unchanged files: no aggregate step at all, the same table read.
    steps = _run_and_list_steps(resources)
    assert not any("rating aggregate" in s.name for s in steps), [s.name for s in steps]
    assert f"FROM movielens.{first}" in _export_query(_step(steps, "presto export"))

    # A new file: only it is aggregated; the query reads both.
    s3.put_object(
        Bucket="genre-lake",
        Key="data/movielens/ratings/ratings-2.csv",
        Body=b"userId,movieId,rating,timestamp\n9,1,4.0,1\n",
    )
    steps = _run_and_list_steps(resources)
    fill = _step(steps, "fill ")
    assert fill.name == "fill 1 rating aggregate(s), remove 0"
    (sql,) = _fill_sqls(_script_of(fill))
    assert f"\"$path\" = '{ratings}ratings-2.csv'" in sql
    both = _aggregate_tables()
    assert len(both) == 2 and first in both
    query = _export_query(_step(steps, "presto export"))
    assert all(f"FROM movielens.{name}" in query for name in both) and "UNION ALL" in query

    # A changed file: its new version aggregated alone, the old version's table and objects go.
    s3.put_object(
        Bucket="genre-lake",
        Key="data/movielens/ratings/ratings-2.csv",
        Body=b"userId,movieId,rating,timestamp\n9,1,4.0,1\n9,2,3.0,1\n",
    )
    (old_second,) = [n for n in both if n != first]
    old_folder = f"_cache/rating_aggregates/{old_second.removeprefix('rating_agg_')}/"
    assert any(old_folder in k for k in _aggregate_objects())
    steps = _run_and_list_steps(resources)
    hive, fill = _step(steps, "define rating aggregates"), _step(steps, "fill ")
    assert f"DROP TABLE IF EXISTS movielens.{old_second};" in _script_of(hive)
    assert fill.name == "fill 1 rating aggregate(s), remove 1"
    assert (
        f"aws s3 rm --only-show-errors --recursive s3://genre-lake/data/{old_folder}"
        in _script_of(fill)
    )
    (sql,) = _fill_sqls(_script_of(fill))
    assert "ratings-2.csv" in sql
    assert first in _aggregate_tables() and old_second not in _aggregate_tables()

    # A removed file: its aggregate is dropped, nothing is filled, the query reads the rest.
    s3.delete_object(Bucket="genre-lake", Key="data/movielens/ratings/ratings-2.csv")
    steps = _run_and_list_steps(resources)
    fill = _step(steps, "fill ")
    assert fill.name == "fill 0 rating aggregate(s), remove 1"
    assert _fill_sqls(_script_of(fill)) == []
    assert _aggregate_tables() == [first]
    query = _export_query(_step(steps, "presto export"))
    assert f"FROM movielens.{first}" in query and "UNION ALL" not in query


def test_the_earlier_parquet_cache_is_dropped_and_only_cache_folders_are_ever_deleted(
    aws_env, step_driver, monkeypatch
):
    """The whole-ratings cache of earlier releases goes with the first aggregates' run (table and
    objects); a table that merely has our prefix but reads another folder loses its Glue entry,
    never the files it points at."""
    from genre_assets.domain.schema import RATINGS, ratings_cache_spec

    _markers_too(monkeypatch)
    glue = boto3.client("glue", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "movielens"})
    legacy = ratings_cache_spec("ratings_parquet_0123456789abcdef", "_cache/ratings/fp/run/")
    glue.create_table(
        DatabaseName="movielens",
        TableInput=table_input(
            legacy.name,
            glue_tables.TableShape.of_spec(legacy, f"{LAKE_URI}/_cache/ratings/fp/run/"),
        ),
    )
    s3.put_object(Bucket="genre-lake", Key="data/_cache/ratings/fp/run/part-0", Body=b"x")
    foreign = glue_tables.TableShape.of_spec(RATINGS, f"{LAKE_URI}/movielens/ratings/")
    glue.create_table(
        DatabaseName="movielens", TableInput=table_input("rating_agg_foreign", foreign)
    )

    steps = _run_and_list_steps(aws_resources(columnar_cache=1))
    hive, fill = _step(steps, "define rating aggregates"), _step(steps, "fill ")
    assert "DROP TABLE IF EXISTS movielens.ratings_parquet_0123456789abcdef;" in _script_of(hive)
    assert "DROP TABLE IF EXISTS movielens.rating_agg_foreign;" in _script_of(hive)
    assert fill.name == "fill 1 rating aggregate(s), remove 2"
    removals = [line for line in _script_of(fill).splitlines() if line.startswith("aws s3 rm")]
    assert removals == [
        f"aws s3 rm --only-show-errors --recursive {LAKE_URI}/_cache/ratings/fp/"
    ], removals
    names = [t["Name"] for t in glue.get_tables(DatabaseName="movielens")["TableList"]]
    assert "rating_agg_foreign" not in names and legacy.name not in names


def test_an_incomplete_aggregate_makes_the_query_read_the_csvs(aws_env, step_driver):
    """Without the fill step's markers (the plain step driver writes none), the export never
    reads a table whose INSERT may not have finished."""
    steps = _run_and_list_steps(aws_resources(columnar_cache=1))
    query = _export_query(_step(steps, "presto export"))
    assert "FROM movielens.ratings" in query and "rating_agg_" not in query


def _shell_script(step) -> str:
    """The script a shell step runs (`aws s3 cp '<uri>' - | bash -s`)."""
    bucket, key = re.search(r"'s3://([^/']+)/([^']+)'", step.args[2]).groups()
    s3 = boto3.client("s3", region_name=REGION)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def test_a_trino_run_installs_trino_with_its_glue_connector_and_its_steps_call_trino_cli(
    aws_env, step_driver
):
    """GENRE_ASSETS_EMR_SQL_ENGINE=trino: the Trino application (never with Presto), its Hive
    connector on Glue through `trino-connector-hive`, and trino-cli in every query step."""
    resources = aws_resources(sql_engine="trino", columnar_cache=1)
    request = resources["engine"].job_flow_request()
    assert [a["Name"] for a in request["Applications"]] == ["Hadoop", "Hive", "Trino"]
    assert {c["Classification"]: c["Properties"] for c in request["Configurations"]} == {
        "hive-site": {"hive.metastore.client.factory.class": emr_cluster.GLUE_HIVE_CLIENT_FACTORY},
        "trino-connector-hive": {
            "hive.metastore": "glue",
            # The same property name as PrestoDB's (docs/aws-fidelity.md).
            "hive.non-managed-table-writes-enabled": "true",
        },
    }
    result = _materialize(resources)
    assert result.success
    (cluster,) = clusters()
    assert {a.name for a in cluster.applications} == {"Hadoop", "Hive", "Trino"}
    shell_steps = [s for s in cluster.steps if s.args[0] == "bash"]
    assert [s.name for s in shell_steps] == [
        "fill 1 rating aggregate(s), remove 0",
        "trino export of 3 genre(s)",
    ]
    for step in shell_steps:
        script = _shell_script(step)
        commands = [line.split()[0] for line in script.splitlines() if "--catalog hive" in line]
        assert commands == ["trino-cli"], script
        assert "--schema movielens --output-format TSV" in script and '--file "$work/' in script
    export = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey("genre_film_export")
    ][0].event_specific_data.materialization
    assert export.metadata["engine"].value == "emr emr-6.15.0 (hive, trino)"


def test_a_presto_run_is_the_default_and_never_installs_trino(aws_env):
    request = aws_resources(applications=["Hadoop", "Hive", "Trino"])["engine"].job_flow_request()
    # The setting alone picks the engine: another engine among `applications` is dropped.
    assert [a["Name"] for a in request["Applications"]] == ["Hadoop", "Hive", "Presto"]
    assert "trino-connector-hive" not in {c["Classification"] for c in request["Configurations"]}


@pytest.mark.parametrize("value", ["athena", "Trino", "presto "])
def test_an_unknown_sql_engine_fails_the_run_before_any_cluster_starts(aws_env, value):
    with pytest.raises(dg.DagsterResourceFunctionError) as refused:
        with dg.build_resources(aws_resources(sql_engine=value)):
            pass
    error = refused.value.user_exception
    assert isinstance(error, ConfigurationError)
    assert str(error) == (
        f"GENRE_ASSETS_EMR_SQL_ENGINE={value!r} is not allowed: choose one of presto, trino"
    )
    assert clusters() == []


def test_the_sql_engine_setting_reaches_the_aws_engine(aws_env, monkeypatch):
    from genre_assets.deployments import resources_for

    monkeypatch.setenv("GENRE_ASSETS_LAKE", LAKE_URI)
    monkeypatch.setenv("GENRE_ASSETS_EMR_SQL_ENGINE", "trino")
    with dg.build_resources(resources_for("aws")) as built:
        assert built.engine.sql_engine == "trino"
        assert built.engine.engine_name.endswith("(hive, trino)")
    monkeypatch.delenv("GENRE_ASSETS_EMR_SQL_ENGINE")
    with dg.build_resources(resources_for("aws")) as built:
        assert built.engine.sql_engine == "presto"
