"""The local engine's per-file rating aggregates: an unchanged file is never read again, a new
or changed file is aggregated alone, a removed file's entry is dropped, the source checks count
from them, and however the ratings are split into files the exports are byte-identical."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genre_assets_tests.resources.local.test_columnar_cache import cache_metadata, exports
from genre_assets_tests.support.local import materialize_genres

GENRES = ["Comedy", "Drama"]
HEADER = "userId,movieId,rating,timestamp\n"


def _entries(lake: Path) -> dict[str, float]:
    """Aggregate entry -> its modification time (an entry rewritten gets a new one)."""
    return {p.name: p.stat().st_mtime_ns for p in (lake / "_cache/rating_aggregates").glob("*")}


def test_unchanged_files_are_never_read_again_and_only_a_new_file_is_aggregated(
    golden_lake, instance
):
    first = cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert (first["ratings_files_aggregated"], first["ratings_files_reused"]) == (1, 0)
    assert first["ratings_row_count"] == 20
    before = _entries(golden_lake)
    assert len(before) == 1

    (golden_lake / "movielens/ratings/more.csv").write_text(HEADER + "5,7,5.0,1\n9,2,0.5,2\n")
    second = cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert (second["ratings_files_aggregated"], second["ratings_files_reused"]) == (1, 1)
    assert second["ratings_aggregates_dropped"] == 0 and second["ratings_row_count"] == 22
    after = _entries(golden_lake)
    assert len(after) == 2
    (kept,) = before
    assert after[kept] == before[kept]  # the first file's entry was not rewritten
    assert (
        "2\tAmerican President, The\t1995\t3.0000\t4\n"
        in (golden_lake / "movielens/drama/drama_films.tsv").read_text()
    )

    # A changed file: its old entry goes, its new one comes, the other file's stays.
    (golden_lake / "movielens/ratings/more.csv").write_text(HEADER + "5,7,5.0,1\n")
    third = cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert (third["ratings_files_aggregated"], third["ratings_aggregates_dropped"]) == (1, 1)
    assert third["ratings_row_count"] == 21

    # A removed file: its entry is dropped, nothing is read.
    (golden_lake / "movielens/ratings/more.csv").unlink()
    fourth = cache_metadata(materialize_genres(golden_lake, GENRES, instance=instance))
    assert (fourth["ratings_files_aggregated"], fourth["ratings_aggregates_dropped"]) == (0, 1)
    assert _entries(golden_lake) == {kept: before[kept]}
    assert fourth["ratings_row_count"] == 20


def test_the_source_checks_count_from_the_aggregates(golden_lake, instance):
    materialize_genres(golden_lake, GENRES, instance=instance)
    clean = exports(golden_lake)
    (golden_lake / "movielens/ratings/bad.csv").write_text(
        HEADER + "1,1,7.5,1\n1,424242,4.0,1\n2,424242,0.0,1\n3,1,nan,1\n"
    )
    result = materialize_genres(golden_lake, GENRES, instance=instance)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    in_range = checks["ratings_in_range"]
    assert not in_range.passed and in_range.metadata["skipped_ratings"].value == 3
    assert in_range.metadata["ratings"].value == 24
    known = checks["ratings_reference_known_movies"]
    assert known.metadata["ratings_of_unknown_movies"].value == 2
    assert known.metadata["example_movie_ids"].value == [424242]
    # Reported, never averaged: the exports are those of the clean ratings.
    assert exports(golden_lake) == clean


def _lines(lake: Path) -> list[str]:
    return (lake / "movielens/ratings/ratings.csv").read_text().splitlines(keepends=True)[1:]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(parts=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_exports_are_byte_identical_however_the_ratings_are_split(
    golden_lake, tmp_path_factory, instance, parts, seed
):
    if not hasattr(test_exports_are_byte_identical_however_the_ratings_are_split, "whole"):
        materialize_genres(golden_lake, GENRES, instance=instance)
        test_exports_are_byte_identical_however_the_ratings_are_split.whole = exports(golden_lake)
    whole = test_exports_are_byte_identical_however_the_ratings_are_split.whole
    lines = _lines(golden_lake)
    shuffled = random.Random(seed).sample(lines, len(lines))
    lake = tmp_path_factory.mktemp("split")
    (lake / "movielens/ratings").mkdir(parents=True)
    (lake / "movielens/movies").mkdir(parents=True)
    (lake / "movielens/movies/movies.csv").write_bytes(
        (golden_lake / "movielens/movies/movies.csv").read_bytes()
    )
    for part in range(parts):
        chunk = shuffled[part::parts]
        (lake / f"movielens/ratings/part-{part}.csv").write_text(HEADER + "".join(chunk))
    result = materialize_genres(lake, GENRES, instance=instance)
    assert cache_metadata(result)["ratings_files"] == parts
    assert exports(lake) == whole


def test_an_entry_holds_exact_decimal_sums_of_the_valid_ratings_only(golden_lake, instance):
    (golden_lake / "movielens/ratings/odd.csv").write_text(
        HEADER + "1,50,3.3,1\n2,50,3.3,1\n3,50,3.4,1\n4,50,9.0,1\n"
    )
    materialize_genres(golden_lake, GENRES, instance=instance)
    rows = duckdb.sql(
        "SELECT rating_sum, rated, ratings FROM read_parquet(?) WHERE movie_id = 50",
        params=[str(golden_lake / "_cache/rating_aggregates/*.parquet")],
    ).fetchall()
    ((rating_sum, rated, ratings),) = rows
    assert str(rating_sum) == "10.000000" and (rated, ratings) == (3, 4)
