"""Property: on generated lakes, the local engine's export of any genre set equals the plain-Python
reference computation of docs/contract.md (genre_assets_tests/reference.py)."""

import csv
import itertools
import os
from pathlib import Path

import dagster as dg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genre_assets.domain.schema import SOURCE_TABLES
from genre_assets.domain.targets import genre_targets
from genre_assets_tests.reference import expected_tsv
from genre_assets_tests.support.local import local_resources

GENRE_POOL = ["Drama", "Dramatic", "Children", "Children's", "Sci-Fi", "(no genres listed)", "A|B"]
SUFFIXES = [
    "",
    " (1995)",
    " (1975-1979)",
    " (2007-)",
    " (1993\u20131998)",
    " (19)",
    "(2001) ",
    " (abcd)",
]
TITLE_ALPHABET = st.sampled_from(list("ab Z,\"'\\()-\u2013\u00e9\t\n0123456789|"))

titles = st.builds(
    lambda core, suffix, pad: pad + core + suffix + pad,
    st.text(TITLE_ALPHABET, min_size=0, max_size=12),
    st.sampled_from(SUFFIXES),
    st.sampled_from(["", " ", "  "]),
)
movies = st.lists(
    st.tuples(titles, st.lists(st.sampled_from(GENRE_POOL[:-1]), min_size=1, max_size=3)),
    min_size=1,
    max_size=25,
)
ratings = st.lists(
    st.tuples(st.integers(1, 30), st.integers(0, 30), st.integers(1, 10)), max_size=120
)


def _write_lake(lake: Path, movie_rows, rating_rows) -> None:
    (lake / "movielens/movies").mkdir(parents=True)
    (lake / "movielens/ratings").mkdir(parents=True)
    with (lake / "movielens/movies/movies.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["movieId", "title", "genres"])
        for movie_id, (title, genres) in enumerate(movie_rows, start=1):
            writer.writerow([movie_id * 3, title, "|".join(genres)])
    # Two ratings files: a table reads every CSV in its folder.
    for part, chunk in enumerate([rating_rows[::2], rating_rows[1::2]]):
        with (lake / f"movielens/ratings/part-{part}.csv").open("w", encoding="utf-8") as f:
            f.write("userId,movieId,rating,timestamp\n")
            for user, movie, half_stars in chunk:
                f.write(f"{user},{movie * 3},{half_stars / 2:.1f},1000000000\n")


@settings(
    max_examples=int(os.environ.get("GENRE_ASSETS_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    movie_rows=movies,
    rating_rows=ratings,
    genre_choice=st.sets(st.sampled_from(GENRE_POOL[:-1]), min_size=1),
)
def test_engine_matches_reference(tmp_path_factory, movie_rows, rating_rows, genre_choice):
    lake = tmp_path_factory.mktemp("lake")
    _write_lake(lake, movie_rows, rating_rows)
    requested = sorted(genre_choice)
    with dg.build_resources(local_resources(lake)) as resources:
        log = dg.get_dagster_logger()
        engine = resources.engine
        engine.create_database(log)
        for table in SOURCE_TABLES:
            engine.create_source_table(log, table)
        exports = engine.export_genres(log, genre_targets(requested))
    assert [e.genre for e in exports] == requested
    for export in exports:
        actual = Path(export.uri).read_text(encoding="utf-8")
        assert actual == expected_tsv(lake, export.genre), export.genre
        assert export.row_count == actual.count("\n") - 1


def test_reference_agrees_with_hand_computed_example(golden_lake):
    # Guards the reference itself: a wrong oracle would make the property test meaningless.
    assert expected_tsv(golden_lake, "Sci-Fi") == (
        "movie_id\ttitle\tyear\tavg_rating\trating_count\n5\tBabylon 5\t1993\t0.5000\t1\n"
    )
    lines = expected_tsv(golden_lake, "Comedy").splitlines()
    assert lines[1:3] == ["6\tLife Goes On\t2007\t3.6667\t3", "8\tPadded Title\t2001\t4.5000\t1"]
    assert list(itertools.islice(reversed(lines), 1)) == ["7\tNameless Film\t\t1.5000\t1"]
