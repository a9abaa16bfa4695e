"""The columnar cache of `movies` is reused while its raw files are unchanged and rebuilt when
they change, and the genre query gives the same answer from the cache and the ratings' per-file
aggregates as from the CSVs."""

import os

import dagster as dg

from genre_assets_tests.support.local import materialize_genres

GENRES = ["Comedy", "Drama"]


def cache_metadata(result) -> dict:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("columnar_cache")
    ]
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


def exports(lake, genres=("comedy", "drama")):
    return {g: (lake / f"movielens/{g}/{g}_films.tsv").read_bytes() for g in genres}


def test_the_movies_cache_is_reused_then_rebuilt_when_a_raw_file_changes(golden_lake, instance):
    first = cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert first["movies_cache_reused"] is False
    entry = first["movies_cache"]
    assert os.path.exists(entry)
    second = cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert second["movies_cache_reused"] is True and second["movies_cache"] == entry

    with (golden_lake / "movielens/movies/movies.csv").open("a") as handle:
        handle.write('99,"Late Addition (2001)",Comedy\n')
    third = cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert third["movies_cache_reused"] is False and third["movies_cache"] != entry
    assert third["movies_row_count"] == 16
    # The superseded entry is gone, so a stale cache can never be read.
    assert not os.path.exists(entry)


def test_cached_and_csv_paths_give_identical_exports(golden_lake, tmp_path, instance):
    from genre_assets.assets import ALL_ASSETS
    from genre_assets.partitions import range_tags
    from genre_assets_tests.support.local import local_resources

    materialize_genres(golden_lake, GENRES, instance=instance)
    with_cache = exports(golden_lake)
    for entry in (golden_lake / "_cache").rglob("*.parquet"):
        entry.unlink()
    # Only the export: the cache and the aggregates stay missing, so the query reads the CSVs.
    result = dg.materialize(
        [a for a in ALL_ASSETS if a.key.to_user_string() == "genre_film_export"],
        resources=local_resources(golden_lake),
        instance=instance,
        tags=range_tags(GENRES[0], GENRES[-1]),
    )
    assert result.success
    assert not list((golden_lake / "_cache").rglob("*.parquet"))
    assert exports(golden_lake) == with_cache
