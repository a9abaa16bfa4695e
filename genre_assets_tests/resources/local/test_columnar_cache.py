"""The columnar cache is reused while the raw files are unchanged and rebuilt when they change,
and the genre query gives the same answer from the cache as from the CSVs."""

import os

import dagster as dg

from genre_assets_tests.support.local import materialize_genres

GENRES = ["Comedy", "Drama"]


def _cache_metadata(result) -> dict:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("columnar_cache")
    ]
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


def _exports(lake):
    return {g: (lake / f"movielens/{g}/{g}_films.tsv").read_bytes() for g in ("comedy", "drama")}


def test_cache_is_reused_then_rebuilt_when_a_raw_file_changes(golden_lake, instance):
    first = _cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert first["ratings_cache_reused"] is False and first["movies_cache_reused"] is False
    ratings_entry = first["ratings_cache"]
    assert os.path.exists(ratings_entry)

    second = _cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert second["ratings_cache_reused"] is True and second["ratings_cache"] == ratings_entry

    with (golden_lake / "movielens/ratings/ratings.csv").open("a") as handle:
        handle.write("9,2,0.5,964982703\n")
    third = _cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert third["ratings_cache_reused"] is False
    assert third["ratings_cache"] != ratings_entry
    assert third["ratings_row_count"] == 21
    assert third["movies_cache_reused"] is True
    # The superseded entry is gone, so a stale cache can never be read.
    assert not os.path.exists(ratings_entry)
    assert (
        "2\tAmerican President, The\t1995\t3.0000\t4\n"
        in (golden_lake / "movielens/drama/drama_films.tsv").read_text()
    )


def test_an_added_raw_file_invalidates_the_cache(golden_lake, instance):
    first = _cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    (golden_lake / "movielens/ratings/extra.csv").write_text(
        "userId,movieId,rating,timestamp\n5,7,5.0,1\n"
    )
    second = _cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert second["ratings_cache"] != first["ratings_cache"] and second["ratings_row_count"] == 21


def test_cache_and_csv_paths_give_identical_exports(golden_lake, tmp_path, instance):
    from genre_assets.assets import ALL_ASSETS
    from genre_assets.partitions import range_tags
    from genre_assets_tests.support.local import local_resources

    materialize_genres(golden_lake, GENRES, instance=instance)
    with_cache = _exports(golden_lake)
    for entry in (golden_lake / "_cache").rglob("*.parquet"):
        entry.unlink()
    # Only the export: the cache stays missing, so the query reads the CSVs.
    result = dg.materialize(
        [a for a in ALL_ASSETS if a.key.to_user_string() == "genre_film_export"],
        resources=local_resources(golden_lake),
        instance=instance,
        tags=range_tags(GENRES[0], GENRES[-1]),
    )
    assert result.success
    assert not list((golden_lake / "_cache").rglob("*.parquet"))
    assert _exports(golden_lake) == with_cache
