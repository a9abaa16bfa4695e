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


KEY = dg.AssetKey("genre_film_table")


def _results(genre, summary, movies_with_genre=None) -> dict[str, dg.AssetCheckEvaluation]:
    evaluations = checks.evaluate(KEY, genre, summary, movies_with_genre)
    assert {e.partition for e in evaluations} == {genre}
    assert {e.asset_key for e in evaluations} == {KEY}
    return {e.check_name: e for e in evaluations}


def test_a_good_export_passes_every_check():
    good = _summary("1\tA\t1999\t0.5000\t1", "2\tB\t\t5.0000\t3")
    assert good == checks.ExportSummary(row_count=2, out_of_range_ids=[], duplicate_ids=[])
    results = _results("Drama", good, 2)
    assert set(results) == set(checks.CHECK_SPECS_DOC)
    assert all(r.passed for r in results.values())
    assert results["non_empty"].metadata["row_count"].value == 2
    assert results["non_empty"].description == "Drama: 2 rated film(s)"


def test_ratings_outside_the_scale_or_without_votes_fail_with_their_ids_as_text():
    bad = _summary(
        "1\tA\t1999\t5.0001\t1",
        "2\tB\t1999\t0.4999\t1",
        "3\tC\t1999\t3.0000\t0",
        "4\tD\t1999\t3.0000\t2",
    )
    assert bad.out_of_range_ids == [1, 2, 3] and bad.out_of_range_count == 3
    result = _results("Drama", bad)["avg_rating_in_range"]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    # Readable without opening JSON: a text value and a sentence naming the genre.
    assert result.metadata["offending_movie_ids"] == dg.MetadataValue.text("1, 2, 3")
    assert result.metadata["offending_films"].value == 3
    assert result.description == (
        "Drama: 3 film(s) with an average outside 0.5-5.0 or no votes: movie id 1, 2, 3"
    )
    assert _results("War", _summary("9\tW\t2000\t4.0000\t1"))["avg_rating_in_range"].passed


def test_long_lists_of_ids_are_cut_and_counted():
    rows = [f"{i}\tA\t1999\t9.0000\t1" for i in range(1, 26)]
    result = _results("Drama", _summary(*rows))["avg_rating_in_range"]
    assert result.metadata["offending_movie_ids"].value.endswith("19, 20 and 5 more")


def test_a_movie_listed_twice_fails_unique_movie_id_once_per_id():
    twice = _summary(
        "7\tA\t1999\t3.0000\t1",
        "8\tB\t1999\t3.0000\t1",
        "7\tA\t1999\t3.0000\t1",
        "7\tA\t1999\t3.0000\t1",
    )
    result = _results("Drama", twice)["unique_movie_id"]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["duplicate_movie_ids"] == dg.MetadataValue.text("7")
    assert result.metadata["duplicated_films"].value == 1


@pytest.mark.parametrize(
    ("movies_with_genre", "says"),
    [
        (0, "no movie in movies.csv has the genre 'Comedyy'"),
        (4, "none of the 4 film(s) of 'Comedyy' has a rating"),
        (None, "no film of 'Comedyy' has a rating"),
    ],
)
def test_an_empty_table_warns_and_says_whether_the_genre_exists(movies_with_genre, says):
    result = _results("Comedyy", _summary(), movies_with_genre)["non_empty"]
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description == f"Comedyy: {says}"


def test_a_broken_export_is_an_error_naming_the_file_and_line():
    with pytest.raises(InputError, match=r"s3://l/x\.tsv, line 3: 4 fields"):
        _summary("1\tA\t1999\t3.0000\t1", "2\tB\t3.0000\t1")


@pytest.mark.parametrize(
    "rows",
    [
        ["1\tA\t1999\t0.5000\t1", "2\tB\t\t5.0000\t3"],
        ["1\tA\t1999\t5.0001\t1", "2\tB\t\t0.4999\t2", "3\tC\t\t3\t1", "1\tD\t2001\t3.5\t9"],
        ["1\tA\t1999\t3.0000\t0"],  # no votes: the row-by-row path
        ["01\tA\t1999\t3.0000\t1", "1\tB\t1999\t3.0000\t1"],  # 01 and 1 are the same id
        ["4\tA \\\\ B\\n\t1999\t3.0000\t1", "5\tC\r\t\t4.0\t2"],
        [f"{i}\tT{i}\t2000\t{(i % 11) / 2:.4f}\t{i % 3}" for i in range(1, 60)],
    ],
)
def test_the_plain_line_path_and_the_row_path_summarise_alike(rows):
    data = (HEADER + "".join(r + "\n" for r in rows)).encode()
    plain = checks._summarize_plain(data)
    assert checks.summarize_export(data, "x") == checks._summarize_rows(data, "x")
    if plain is not None:
        assert plain == checks._summarize_rows(data, "x")


def test_a_recorded_summary_describes_only_the_version_it_was_recorded_with():
    summary = _summary("1\tA\t1999\t5.0001\t1", "1\tB\t\t3.0000\t2")
    recorded = checks.summary_to_json(summary, "123-456")
    assert checks.summary_from_json(recorded, "123-456") == summary
    assert checks.summary_from_json(recorded, "123-457") is None
    assert checks.summary_from_json(recorded, "") is None
    assert checks.summary_from_json({"version": "123-456"}, "123-456") is None
