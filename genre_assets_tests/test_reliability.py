"""Bad input, hostile values, failures and concurrency on the local deployment (RELIABILITY.md).

Each test names the case it proves; RELIABILITY.md maps every case to its test.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from genre_assets_tests.reference import expected_tsv
from genre_assets_tests.support.local import FIXTURES, materialize_genres

MOVIES = "movielens/movies/movies.csv"
RATINGS = "movielens/ratings/ratings.csv"


def _failure(result) -> str:
    errors = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None:
                errors.append(error.message)
                error = error.cause
    return "\n".join(errors)


def _replace(lake: Path, key: str, text: str | bytes) -> None:
    path = lake / key
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def _checks(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


# --- malformed movies.csv: fail before the table is redefined, naming file and line ---------


@pytest.mark.parametrize(
    ("case", "content", "message"),
    [
        (
            "wrong field count",
            "movieId,title,genres\n1,A (1999),Drama,Extra\n",
            "line 2: 4 field(s)",
        ),
        ("unclosed quote", 'movieId,title,genres\n1,"A (1999),Drama\n2,B,Comedy\n', "line 2"),
        (
            "stray quote",
            'movieId,title,genres\n1,A,Drama\n2,The "Great" Escape (1963),Drama\n',
            "line 3: a quote inside an unquoted field",
        ),
        (
            "space before quote",
            'movieId,title,genres\n1,  "Padded (2001)",Drama\n',
            "line 2: a quote inside an unquoted field",
        ),
        (
            "quoted line break",
            'movieId,title,genres\n1,A,Drama\n2,"Line\nBreak (2003)",Drama\n',
            "line 3: a quoted field runs on to line 4",
        ),
        (
            "non-integer id",
            "movieId,title,genres\n1,A,Drama\n1.5,B,Comedy\n",
            "line 3: movieId '1.5'",
        ),
        (
            "duplicate id",
            "movieId,title,genres\n7,A,Drama\n7,B,Comedy\n",
            "line 3: movieId 7 was already defined at",
        ),
        ("empty file", "", "the file is empty"),
        ("wrong header", "id,name,genres\n1,A,Drama\n", "expected the header"),
        (
            "not UTF-8",
            b"movieId,title,genres\n1,A,Drama\n2,B\xff\xfe,Comedy\n",
            "line 3: bytes that are not UTF-8",
        ),
    ],
)
def test_bad_movies_fail_with_file_and_line(golden_lake, case, content, message):
    _replace(golden_lake, MOVIES, content)
    result = materialize_genres(golden_lake, ["Drama"], raise_on_error=False)
    assert not result.success, case
    text = _failure(result)
    assert message in text and "movies.csv" in text, text
    # Nothing downstream ran: no export was written from bad data.
    assert not (golden_lake / "movielens/drama").exists()


# --- malformed ratings.csv: the CSV reader stops at the bad line ----------------------------


@pytest.mark.parametrize(
    ("case", "line", "message"),
    [
        ("wrong field count", "5,1,4.0\n", "Line: 22"),
        ("non-numeric rating", "5,1,four,964982703\n", '"four"'),
        ("non-integer movie id", "5,x1,4.0,964982703\n", '"x1"'),
        ("non-integer user id", "u5,1,4.0,964982703\n", '"u5"'),
    ],
)
def test_bad_ratings_fail_with_file_and_line(golden_lake, case, line, message):
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write(line)
    result = materialize_genres(golden_lake, ["Drama"], raise_on_error=False)
    assert not result.success, case
    text = _failure(result)
    assert message in text and "ratings.csv" in text, text


@pytest.mark.parametrize("column", ["userId", "movieId", "timestamp"])
def test_a_fractional_id_in_ratings_is_refused_with_its_line(golden_lake, column):
    # DuckDB's BIGINT cast would round 1.5 to 2 and credit the rating to another film.
    values = {"userId": "5", "movieId": "1", "timestamp": "964982703", column: "1.5"}
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write(f"{values['userId']},{values['movieId']},4.0,{values['timestamp']}\n")
    lines = (golden_lake / RATINGS).read_text().count("\n")
    result = materialize_genres(golden_lake, ["Drama"], raise_on_error=False)
    assert not result.success
    text = _failure(result)
    assert f"ratings.csv, line {lines}: {column} '1.5' is not a whole number" in text, text
    assert not (golden_lake / "movielens/drama").exists()


def test_whole_numbers_written_as_decimals_are_read_as_integers(golden_lake):
    # 1.0 is a whole number: a third rating of movie 1, exactly as "1" would be.
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write("5,1.0,4.0,964982703\n")
    result = materialize_genres(golden_lake, ["Children"], raise_on_error=False)
    assert result.success, _failure(result)
    export = (golden_lake / "movielens/children/children_films.tsv").read_text()
    assert "1\tToy Story\t1995\t4.0000\t3\n" in export, export


def test_ratings_that_are_not_utf8_fail(golden_lake):
    with (golden_lake / RATINGS).open("ab") as handle:
        handle.write(b"5,1,4.0,9649\xff82703\n")
    result = materialize_genres(golden_lake, ["Drama"], raise_on_error=False)
    assert not result.success and "ratings.csv" in _failure(result)


def test_an_empty_ratings_file_fails(golden_lake):
    _replace(golden_lake, RATINGS, "")
    result = materialize_genres(golden_lake, ["Drama"], raise_on_error=False)
    assert not result.success and "ratings.csv, line 1" in _failure(result)


# --- loaded and reported ---------------------------------------------------------------------


def test_out_of_range_ratings_are_left_out_and_reported(golden_lake):
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write("8,5,9.0,964982703\n8,5,0.0,964982703\n")
    result = materialize_genres(golden_lake, ["Sci-Fi"])
    check = _checks(result)["ratings_in_range"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["skipped_ratings"].value == 2
    # Babylon 5 keeps its single valid 0.5 rating.
    assert (
        (golden_lake / "movielens/sci_fi/sci_fi_films.tsv")
        .read_text()
        .endswith("5\tBabylon 5\t1993\t0.5000\t1\n")
    )


def test_ratings_of_unknown_movies_are_reported(golden_lake):
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write("8,999,4.0,964982703\n")
    result = materialize_genres(golden_lake, ["Drama"])
    check = _checks(result)["ratings_reference_known_movies"]
    assert not check.passed and check.metadata["example_movie_ids"].value == [999]
    assert (golden_lake / "movielens/drama/drama_films.tsv").read_text() == expected_tsv(
        golden_lake, "Drama"
    )


@pytest.mark.parametrize("which", [MOVIES, RATINGS])
def test_header_only_files_give_empty_tables(golden_lake, which):
    header = (golden_lake / which).read_text().splitlines()[0] + "\n"
    _replace(golden_lake, which, header)
    result = materialize_genres(golden_lake, ["Drama"])
    assert (golden_lake / "movielens/drama/drama_films.tsv").read_text().count("\n") == 1
    assert not _checks(result)["non_empty"].passed


def test_bom_and_crlf_give_the_same_tables(golden_lake, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(FIXTURES / "golden_lake", plain)
    for key in (MOVIES, RATINGS):
        data = (golden_lake / key).read_bytes()
        crlf = data.replace(b"\n", b"\r\n")
        _replace(golden_lake, key, b"\xef\xbb\xbf" + crlf)
    genres = ["Comedy", "Drama"]
    materialize_genres(golden_lake, genres)
    materialize_genres(plain, genres)
    for slug in ("comedy", "drama"):
        key = f"movielens/{slug}/{slug}_films.tsv"
        assert (golden_lake / key).read_bytes() == (plain / key).read_bytes()


def test_tabs_in_titles_and_very_long_titles(golden_lake):
    long_title = "Long " * 4000 + "(2001)"
    with (golden_lake / MOVIES).open("a") as handle:
        handle.write(f'20,"Tab\tin title (2002)",Drama\n21,{long_title},Drama\n')
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write("1,20,3.0,964982703\n1,21,3.0,964982703\n")
    materialize_genres(golden_lake, ["Drama"])
    text = (golden_lake / "movielens/drama/drama_films.tsv").read_text()
    assert "20\tTab in title\t2002\t3.0000\t1\n" in text
    assert f"21\t{long_title[:-7]}\t2001\t3.0000\t1\n" in text
    assert all(line.count("\t") == 4 for line in text.splitlines())


# --- hostile genre values: exact, or refused before anything is written -----------------------


@pytest.mark.parametrize(
    ("genre", "slug"),
    [
        ("Comedy'; DROP TABLE movies; --", "comedy_drop_table_movies"),
        ("50% _off_", "50_off"),
        ("(x)*+?[]", "x"),
        ('Say "hi"', "say_hi"),
        ("../../etc", "etc"),
    ],
)
def test_hostile_genres_match_exactly_and_stay_inside_the_lake(golden_lake, genre, slug):
    with (golden_lake / MOVIES).open("a") as handle:
        quoted = genre.replace('"', '""')
        handle.write(f'30,"Hostile (2020)","{quoted}"\n31,Decoy (2021),Comedy\n')
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write("1,30,4.5,964982703\n1,31,4.5,964982703\n")
    result = materialize_genres(golden_lake, [genre])
    assert result.success
    export = golden_lake / "movielens" / slug / f"{slug}_films.tsv"
    assert export.resolve().is_relative_to(golden_lake.resolve())
    assert export.read_text() == expected_tsv(golden_lake, genre)
    assert export.read_text().count("\n") == 2  # only the film with exactly that genre
    import duckdb

    with duckdb.connect(str(golden_lake / "_catalog.duckdb"), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'movielens'"
            ).fetchall()
        }
    assert {"movies", "ratings", f"{slug}_films"} <= tables


# --- nothing lost ----------------------------------------------------------------------------


def test_a_failed_run_leaves_the_previous_export_untouched(golden_lake, instance):
    materialize_genres(golden_lake, ["Drama"], instance=instance)
    before = (golden_lake / "movielens/drama/drama_films.tsv").read_bytes()
    with (golden_lake / RATINGS).open("a") as handle:
        handle.write("5,2,abc,964982703\n")
    result = materialize_genres(golden_lake, ["Drama"], instance=instance, raise_on_error=False)
    assert not result.success
    assert (golden_lake / "movielens/drama/drama_films.tsv").read_bytes() == before


def test_a_crash_while_writing_keeps_the_old_file_and_no_temporary(golden_lake, monkeypatch):
    from genre_assets.resources.local import lake as lake_module

    materialize_genres(golden_lake, ["Drama"])
    before = (golden_lake / "movielens/drama/drama_films.tsv").read_bytes()

    def broken_fsync(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lake_module.os, "fsync", broken_fsync)
    result = materialize_genres(golden_lake, ["Drama"], raise_on_error=False)
    assert not result.success and "No space left on device" in _failure(result)
    assert (golden_lake / "movielens/drama/drama_films.tsv").read_bytes() == before
    assert [p.name for p in (golden_lake / "movielens/drama").iterdir()] == ["drama_films.tsv"]


# --- concurrency -----------------------------------------------------------------------------


def _cli(lake: Path, *genres: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "genre_assets.cli", "materialize", "--lake", str(lake), "--quiet"]
    for genre in genres:
        args += ["--genre", genre]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENRE_ASSETS_", "DAGSTER_HOME"))
    }
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.mark.parametrize("second", ["Comedy", "Drama"], ids=["different genres", "same genre"])
def test_two_runs_at_once_both_produce_correct_files(golden_lake, second):
    first, other = _cli(golden_lake, "Drama"), _cli(golden_lake, second)
    for process in (first, other):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    for genre, slug in {("Drama", "drama"), (second, second.lower())}:
        assert (golden_lake / f"movielens/{slug}/{slug}_films.tsv").read_text() == expected_tsv(
            golden_lake, genre
        )
    leftovers = [p for p in golden_lake.rglob(".*") if p.is_file()]
    assert leftovers == []
