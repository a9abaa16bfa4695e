"""The asset checks on the genre tables: each one fails on the defect it exists to catch."""

import dagster as dg
import pytest

from genre_assets.checks import genre_tables as checks
from genre_assets.errors import InputError

HEADER = "movie_id\ttitle\tyear\tavg_rating\trating_count\n"


def _summary(*rows: str) -> checks.ExportSummary:
    return checks.summarize_export(
        (HEADER + "".join(r + "\n" for r in rows)).encode(), "s3://l/x.tsv"
    )


def _results(summaries, counts=None) -> dict[str, dg.AssetCheckResult]:
    return {r.check_name: r for r in checks.evaluate(summaries, counts)}


def test_a_good_export_passes_every_check():
    good = _summary("1\tA\t1999\t0.5000\t1", "2\tB\t\t5.0000\t3")
    assert good == checks.ExportSummary(row_count=2, out_of_range_ids=[], duplicate_ids=[])
    results = _results({"Drama": good}, {"Drama": 2})
    assert all(r.passed for r in results.values())
    assert results["non_empty"].metadata["row_counts"].value == {"Drama": 2}


def test_ratings_outside_the_scale_or_without_votes_fail_with_their_ids():
    bad = _summary(
        "1\tA\t1999\t5.0001\t1",
        "2\tB\t1999\t0.4999\t1",
        "3\tC\t1999\t3.0000\t0",
        "4\tD\t1999\t3.0000\t2",
    )
    assert bad.out_of_range_ids == [1, 2, 3]
    result = _results({"Drama": bad, "War": _summary("9\tW\t2000\t4.0000\t1")})[
        "avg_rating_in_range"
    ]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["offending_movie_ids"].value == {"Drama": [1, 2, 3]}


def test_a_movie_listed_twice_fails_unique_movie_id_once_per_id():
    twice = _summary(
        "7\tA\t1999\t3.0000\t1",
        "8\tB\t1999\t3.0000\t1",
        "7\tA\t1999\t3.0000\t1",
        "7\tA\t1999\t3.0000\t1",
    )
    result = _results({"Drama": twice})["unique_movie_id"]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["duplicate_movie_ids"].value == {"Drama": [7]}


@pytest.mark.parametrize(
    ("counts", "unknown", "unrated"),
    [({"Comedyy": 0}, ["Comedyy"], []), ({"Comedyy": 4}, [], ["Comedyy"]), (None, [], ["Comedyy"])],
)
def test_an_empty_table_warns_and_says_whether_the_genre_exists(counts, unknown, unrated):
    result = _results({"Comedyy": _summary()}, counts)["non_empty"]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["genres_not_in_movies"].value == unknown
    assert result.metadata["genres_without_rated_films"].value == unrated


def test_a_broken_export_is_an_error_naming_the_file_and_line():
    with pytest.raises(InputError, match=r"s3://l/x\.tsv, line 3: 4 fields"):
        _summary("1\tA\t1999\t3.0000\t1", "2\tB\t3.0000\t1")
