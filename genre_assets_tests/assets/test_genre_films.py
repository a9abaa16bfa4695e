"""The genre assets selected alone, as a partition backfill in the UI selects them."""

import dagster as dg

from genre_assets.assets import ALL_ASSETS
from genre_assets.partitions import range_tags
from genre_assets.resources.local.catalog import LocalCatalogResource
from genre_assets_tests.support.aws import aws_resources, clusters
from genre_assets_tests.support.local import local_resources

GENRE_ASSETS = [dg.AssetKey("genre_film_export"), dg.AssetKey("genre_film_table")]


def _genres_only(resources, instance, genres):
    instance.add_dynamic_partitions("genre", genres)
    return dg.materialize(
        ALL_ASSETS,
        selection=GENRE_ASSETS,
        resources=resources,
        instance=instance,
        tags=range_tags(genres[0], genres[-1]),
        raise_on_error=False,
    )


def test_a_genre_backfill_on_a_fresh_lake_makes_the_database_and_source_tables(
    golden_lake, instance
):
    """What failed before: `Schema with name movielens does not exist!` in genre_film_table."""
    resources = local_resources(golden_lake)
    result = _genres_only(resources, instance, ["Comedy", "Drama"])
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == set(GENRE_ASSETS)  # nothing else was materialised
    catalog: LocalCatalogResource = resources["catalog"]
    assert catalog.database_exists()
    assert {"movies", "ratings", "comedy_films", "drama_films"} <= set(catalog.list_tables())
    # Visible in the run's log, as the UI shows it.
    logged = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("Database movielens does not exist yet: creating it" in m for m in logged)
    assert any("Source table ratings does not exist yet: defining it" in m for m in logged)

    # Once they exist, a second run only looks: no "does not exist" line.
    again = _genres_only(resources, instance, ["Comedy", "Drama"])
    assert again.success
    assert not any("does not exist yet" in e.user_message for e in instance.all_logs(again.run_id))


def test_on_aws_the_same_run_adds_the_hive_steps_to_its_one_cluster(aws_env, step_driver, instance):
    result = _genres_only(aws_resources(), instance, ["Comedy", "Drama"])
    assert result.success
    (cluster,) = clusters()  # one cluster for the whole run, the Hive steps included
    assert [s.name for s in cluster.steps] == [
        "create database movielens",
        "create movies table",
        "create ratings table",
        "presto export of 2 genre(s)",
        "create 2 genre table(s)",
    ]
