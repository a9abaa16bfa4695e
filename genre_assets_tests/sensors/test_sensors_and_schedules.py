"""The catalog-check sensor and the nightly schedule, evaluated against a real local catalog."""

import datetime
import os
import time

import dagster as dg

from genre_assets.schedules import nightly_refresh
from genre_assets.sensors.catalog_check import catalog_check_sensor
from genre_assets_tests.support.local import local_resources, materialize_genres

GENRES = ["Comedy", "Drama", "Children", "Sci-Fi"]
NIGHT = datetime.datetime(2026, 11, 25, 3, tzinfo=datetime.UTC)


def _tick(instance, lake, cursor=None):
    resources = local_resources(lake)
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"lake": resources["lake"], "catalog": resources["catalog"]},
    ) as context:
        return catalog_check_sensor(context)


def test_an_empty_catalog_requests_the_source_tables(golden_lake):
    with dg.instance_for_test() as instance:
        result = _tick(instance, golden_lake)
        (request,) = result.run_requests
        assert {k.to_user_string() for k in request.asset_selection} == {
            "raw_movies",
            "raw_ratings",
            "film_database",
            "movies",
            "ratings",
        }
        assert "movielens" in request.tags["genre_assets/reason"]


def test_a_complete_catalog_skips_with_a_reason(golden_lake):
    with dg.instance_for_test() as instance:
        materialize_genres(golden_lake, GENRES, instance=instance)
        result = _tick(instance, golden_lake)
        assert isinstance(result, dg.SkipReason)
        assert "4 genre table(s)" in result.skip_message


def test_deleted_exports_are_refreshed_in_one_run(golden_lake):
    with dg.instance_for_test() as instance:
        materialize_genres(golden_lake, GENRES, instance=instance)
        (golden_lake / "movielens/comedy/comedy_films.tsv").unlink()
        (golden_lake / "movielens/children/children_films.tsv").unlink()
        first = _tick(instance, golden_lake)
        (request,) = first.run_requests
        assert request.tags["dagster/asset_partition_range_start"] == "Comedy"
        assert request.tags["dagster/asset_partition_range_end"] == "Children"
        assert "Comedy: export missing" in request.tags["genre_assets/reason"]
        # The same state gives the same run key, so the daemon launches it only once.
        again = _tick(instance, golden_lake, cursor=first.cursor)
        assert again.run_requests[0].run_key == request.run_key


def test_new_raw_data_makes_exports_stale(golden_lake):
    with dg.instance_for_test() as instance:
        materialize_genres(golden_lake, GENRES, instance=instance)
        ratings = golden_lake / "movielens/ratings/ratings.csv"
        future = time.time() + 60
        os.utime(ratings, (future, future))
        (request,) = _tick(instance, golden_lake).run_requests
        assert request.tags["dagster/asset_partition_range_start"] == "Comedy"
        assert request.tags["dagster/asset_partition_range_end"] == "Sci-Fi"
        assert "older than the raw data" in request.tags["genre_assets/reason"]


def test_a_dropped_source_table_is_requested(golden_lake):
    import duckdb

    with dg.instance_for_test() as instance:
        materialize_genres(golden_lake, GENRES, instance=instance)
        with duckdb.connect(str(golden_lake / "_catalog.duckdb")) as con:
            con.execute("DROP VIEW movielens.ratings")
        (request,) = _tick(instance, golden_lake).run_requests
        assert request.tags["genre_assets/reason"] == "missing: ratings"


def test_nightly_schedule_covers_every_partition():
    with dg.instance_for_test() as instance:
        # Contexts are closed: an open one stays Dagster's current definitions-state storage.
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=NIGHT
        ) as context:
            assert isinstance(nightly_refresh(context), dg.SkipReason)
        instance.add_dynamic_partitions("genre", ["Action", "Drama", "Western"])
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=NIGHT
        ) as context:
            request = nightly_refresh(context)
        assert request.tags["dagster/asset_partition_range_start"] == "Action"
        assert request.tags["dagster/asset_partition_range_end"] == "Western"
