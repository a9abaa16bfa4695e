"""The raw CSV folders as observable assets: their data versions, the observer sensor, the job's
observation steps, and Dagster's staleness (what the UI shows) after new raw data lands."""

import os
import shutil
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from genre_assets.assets import ALL_ASSETS, RAW_SOURCE_KEYS
from genre_assets.assets.raw_sources import NO_FILES_VERSION, data_files, observe_table
from genre_assets.checks.source_data import source_data_checks
from genre_assets.definitions import build_definitions
from genre_assets.domain.schema import MOVIES, RATINGS
from genre_assets.errors import InputError
from genre_assets.partitions import range_tags
from genre_assets.resources.raw_files import source_files
from genre_assets.sensors.raw_data_observer import raw_data_observer, recorded_data_version
from genre_assets_tests.support.aws import BUCKET, aws_resources
from genre_assets_tests.support.local import local_resources, materialize_genres

RAW_MOVIES, RAW_RATINGS = RAW_SOURCE_KEYS
NEW_RATINGS = "userId,movieId,rating,timestamp\n9,1,1.0,1700000000\n"


def _version(lake, table) -> str:
    result = observe_table(lake, table)
    assert result.data_version is not None
    return result.data_version.value


def _observe_with_the_sensor(instance: dg.DagsterInstance, lake: Path):
    """One tick of raw_data_observer, its observations stored as the sensor daemon stores them."""
    with dg.build_sensor_context(
        instance=instance, resources={"lake": local_resources(lake)["lake"]}
    ) as context:
        result = raw_data_observer(context)
    if isinstance(result, dg.SensorResult):
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
    return result


def _statuses(instance: dg.DagsterInstance, lake: Path, genre: str) -> dict[str, StaleStatus]:
    """Every asset's stale status as the UI computes it (the genre assets for `genre`)."""
    defs = dg.Definitions(
        assets=ALL_ASSETS, asset_checks=[source_data_checks], resources=local_resources(lake)
    )
    graph = defs.resolve_asset_graph()
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    return {
        key.to_user_string(): resolver.get_status(
            key, genre if graph.get(key).is_partitioned else None
        )
        for key in graph.get_all_asset_keys()
    }


def _stale(statuses: dict[str, StaleStatus]) -> set[str]:
    return {key for key, status in statuses.items() if status != StaleStatus.FRESH}


def test_the_data_version_follows_the_files_and_nothing_else(golden_lake, tmp_path):
    lake = local_resources(golden_lake)["lake"]
    movies, ratings = _version(lake, MOVIES), _version(lake, RATINGS)
    assert movies != ratings and len(movies) == 16
    assert _version(lake, RATINGS) == ratings  # stable

    # Keys are relative to the lake: the same files under another root have the same version.
    moved = tmp_path / "elsewhere"
    shutil.copytree(golden_lake, moved)  # copy2 keeps mtimes
    assert _version(local_resources(moved)["lake"], RATINGS) == ratings

    # Files the tables do not read (another suffix, hidden in-flight temporaries) do not count.
    (golden_lake / "movielens/ratings/README.txt").write_text("notes")
    (golden_lake / "movielens/ratings/.ratings.csv.tmp").write_text("partial")
    assert _version(lake, RATINGS) == ratings

    # A rewritten file (new mtime) or a new file changes it; the other table keeps its version.
    data = golden_lake / "movielens/ratings/ratings.csv"
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 1_000_000_000))
    touched = _version(lake, RATINGS)
    assert touched != ratings
    (golden_lake / "movielens/ratings/ratings_2.csv").write_text(NEW_RATINGS)
    assert _version(lake, RATINGS) not in (ratings, touched)
    assert _version(lake, MOVIES) == movies


def test_the_observation_lists_the_files(golden_lake):
    lake = local_resources(golden_lake)["lake"]
    (golden_lake / "movielens/ratings/ratings_2.csv").write_text(NEW_RATINGS)
    result = observe_table(lake, RATINGS)
    meta = result.metadata
    assert result.asset_key == RAW_RATINGS
    assert meta["file_count"] == 2
    assert meta["total_bytes"] == sum(f.size for f in data_files(lake, RATINGS))
    assert str(meta["location"].value) == lake.uri(RATINGS.folder)
    rows = [record.data for record in meta["files"].value.records]
    assert [r["key"] for r in rows] == [
        "movielens/ratings/ratings.csv",
        "movielens/ratings/ratings_2.csv",
    ]
    assert rows[1]["size_bytes"] == len(NEW_RATINGS) and rows[1]["version"].endswith(
        f"-{len(NEW_RATINGS)}"
    )
    assert "problem" not in meta


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_a_folder_without_data_is_an_observation_that_says_so(golden_lake, how):
    folder = golden_lake / "movielens/ratings"
    if how == "empty":
        for csv in folder.glob("*.csv"):
            csv.unlink()
    else:
        shutil.rmtree(folder)
    lake = local_resources(golden_lake)["lake"]
    result = observe_table(lake, RATINGS)
    assert result.data_version == dg.DataVersion(NO_FILES_VERSION)
    assert result.metadata["file_count"] == 0
    # The same sentence the ratings materialisation fails with.
    with pytest.raises(InputError) as raised:
        source_files(lake, RATINGS)
    assert result.metadata["problem"] == str(raised.value)


def test_new_ratings_make_ratings_and_the_genre_assets_stale_but_not_movies(golden_lake):
    with dg.instance_for_test() as instance:
        _observe_with_the_sensor(instance, golden_lake)
        materialize_genres(golden_lake, ["Comedy"], instance=instance)
        # What the materialisation recorded: the raw versions it read.
        ratings = instance.get_latest_materialization_event(dg.AssetKey("ratings"))
        assert ratings is not None and ratings.asset_materialization is not None
        assert ratings.asset_materialization.tags[
            "dagster/input_data_version/raw_ratings"
        ] == recorded_data_version(instance, RAW_RATINGS)
        assert _stale(_statuses(instance, golden_lake, "Comedy")) == set()

        (golden_lake / "movielens/ratings/ratings_2.csv").write_text(NEW_RATINGS)
        _observe_with_the_sensor(instance, golden_lake)

        statuses = _statuses(instance, golden_lake, "Comedy")
        assert _stale(statuses) == {
            "ratings",
            "columnar_cache",
            "genre_film_export",
            "genre_film_table",
        }
        assert all(statuses[k] == StaleStatus.STALE for k in _stale(statuses))
        assert statuses["movies"] == StaleStatus.FRESH
        # The cause the UI shows: the raw folder's new data version.
        defs = dg.Definitions(assets=ALL_ASSETS, resources=local_resources(golden_lake))
        resolver = CachingStaleStatusResolver(
            instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
        )
        (cause,) = resolver.get_stale_root_causes(dg.AssetKey("genre_film_table"), "Comedy")
        assert cause.asset_key == RAW_RATINGS and "new data version" in cause.reason


def test_the_sensor_records_an_observation_only_when_a_folder_changed(golden_lake):
    with dg.instance_for_test() as instance:
        first = _observe_with_the_sensor(instance, golden_lake)
        assert isinstance(first, dg.SensorResult)
        assert {e.asset_key for e in first.asset_events} == set(RAW_SOURCE_KEYS)

        again = _observe_with_the_sensor(instance, golden_lake)
        assert isinstance(again, dg.SkipReason) and "unchanged" in again.skip_message

        (golden_lake / "movielens/ratings/ratings_2.csv").write_text(NEW_RATINGS)
        changed = _observe_with_the_sensor(instance, golden_lake)
        assert isinstance(changed, dg.SensorResult)
        (event,) = changed.asset_events
        assert event.asset_key == RAW_RATINGS and event.metadata["file_count"].value == 2
        assert recorded_data_version(instance, RAW_RATINGS) == _version(
            local_resources(golden_lake)["lake"], RATINGS
        )


def test_the_sensor_skips_with_the_reason_when_the_lake_does_not_exist(tmp_path):
    with dg.instance_for_test() as instance:
        result = _observe_with_the_sensor(instance, tmp_path / "no-lake-here")
    assert isinstance(result, dg.SkipReason)
    assert "cannot observe raw_movies" in result.skip_message
    assert str(tmp_path / "no-lake-here") in result.skip_message


def test_the_sensor_runs_by_default_and_launches_nothing():
    defs = build_definitions("local")
    sensor = defs.resolve_sensor_def("raw_data_observer")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert not sensor.targets  # it reports observations itself: no run per tick


def test_genre_films_job_observes_the_raw_folders_before_it_builds(golden_lake, monkeypatch):
    """The CLI's path (build_definitions, then the job's execute_in_process): every run records
    fresh observations first, so its tables are fresh against the raw data they were built from."""
    monkeypatch.setenv("GENRE_ASSETS_LAKE", str(golden_lake))
    monkeypatch.setenv("GENRE_ASSETS_DUCKDB_THREADS", "2")
    monkeypatch.setenv("GENRE_ASSETS_DUCKDB_MEMORY", "1GB")
    job = build_definitions("local").resolve_job_def("genre_films_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("genre", ["Comedy", "Drama"])

        def run(start: str, end: str) -> dg.ExecuteInProcessResult:
            result = job.execute_in_process(instance=instance, tags=range_tags(start, end))
            assert result.success
            return result

        first = run("Comedy", "Drama")
        # Each step's first observation or start, in the order the run logged them.
        kinds = (dg.DagsterEventType.ASSET_OBSERVATION, dg.DagsterEventType.STEP_START)
        order = [e.step_key for e in first.all_events if e.event_type in kinds]
        assert order.index("raw_ratings") < order.index("ratings")
        assert order.index("raw_movies") < order.index("movies")
        observed = first.get_asset_observation_events()
        assert {e.asset_observation_data.asset_observation.asset_key for e in observed} == set(
            RAW_SOURCE_KEYS
        )
        assert _stale(_statuses(instance, golden_lake, "Comedy")) == set()

        # New ratings, no sensor: the next run of one genre observes them itself ...
        (golden_lake / "movielens/ratings/ratings_2.csv").write_text(NEW_RATINGS)
        run("Comedy", "Comedy")
        assert recorded_data_version(instance, RAW_RATINGS) == _version(
            local_resources(golden_lake)["lake"], RATINGS
        )
        assert _stale(_statuses(instance, golden_lake, "Comedy")) == set()
        # ... and the genre it did not rebuild is stale against them.
        assert _stale(_statuses(instance, golden_lake, "Drama")) == {
            "genre_film_export",
            "genre_film_table",
        }


def test_the_s3_lake_is_observed_the_same_way(aws_env):
    lake = aws_resources()["lake"]
    before = _version(lake, RATINGS)
    (obj,) = data_files(lake, RATINGS)
    assert obj.key == "movielens/ratings/ratings.csv" and len(obj.version) == 32  # the ETag
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="data/movielens/ratings/ratings_2.csv", Body=NEW_RATINGS.encode()
    )
    result = observe_table(lake, RATINGS)
    assert result.data_version is not None and result.data_version.value != before
    assert result.metadata["file_count"] == 2
    assert _version(lake, MOVIES) != NO_FILES_VERSION
