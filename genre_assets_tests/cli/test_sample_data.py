"""Tests for the synthetic MovieLens lake: exact file format, determinism, quirks, atomicity."""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from genre_assets.cli import sample_data
from genre_assets.cli.sample_data import GENRES, NO_GENRES, SampleLakeSummary, generate_sample_lake

RATING_VALUES = {f"{half / 2:.1f}" for half in range(1, 11)}
HALF_STARS_INTRODUCED = 1_045_526_400  # 2003-02-18
YEAR_AT_END = re.compile(r"\((\d{4})(?:[-–](?:\d{4})?)?\)\s*$")


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f, strict=True))


def lake_bytes(summary: SampleLakeSummary) -> tuple[bytes, bytes]:
    return summary.movies_path.read_bytes(), summary.ratings_path.read_bytes()


def rfc4180_field(text: str) -> str:
    """Reference quoting, written independently of the module under test."""
    if "," in text or '"' in text or "\r" in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> SampleLakeSummary:
    return generate_sample_lake(tmp_path_factory.mktemp("lake"), ratings=30_000, movies=1_500)


@pytest.fixture(scope="module")
def movies(lake: SampleLakeSummary) -> list[list[str]]:
    return read_rows(lake.movies_path)


@pytest.fixture(scope="module")
def ratings(lake: SampleLakeSummary) -> list[list[str]]:
    return read_rows(lake.ratings_path)


def test_writes_the_movielens_layout(tmp_path: Path) -> None:
    summary = generate_sample_lake(tmp_path, ratings=100, movies=60)
    assert summary.movies_path == tmp_path / "movielens" / "movies" / "movies.csv"
    assert summary.ratings_path == tmp_path / "movielens" / "ratings" / "ratings.csv"
    # Nothing else, in particular no temp file left behind.
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["movielens/movies/movies.csv", "movielens/ratings/ratings.csv"]


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    first = generate_sample_lake(tmp_path / "a", ratings=20_000, movies=800, seed=7)
    second = generate_sample_lake(tmp_path / "b", ratings=20_000, movies=800, seed=7)
    assert lake_bytes(first) == lake_bytes(second)
    assert first.genres == second.genres


def test_rerun_into_the_same_folder_overwrites_identically(tmp_path: Path) -> None:
    first = lake_bytes(generate_sample_lake(tmp_path, ratings=5_000, movies=300, seed=3))
    assert lake_bytes(generate_sample_lake(tmp_path, ratings=5_000, movies=300, seed=3)) == first


def test_different_seeds_give_different_files(tmp_path: Path) -> None:
    one = lake_bytes(generate_sample_lake(tmp_path / "a", ratings=5_000, movies=300, seed=1))
    two = lake_bytes(generate_sample_lake(tmp_path / "b", ratings=5_000, movies=300, seed=2))
    assert one[0] != two[0]
    assert one[1] != two[1]


def test_movies_do_not_depend_on_the_rating_count(tmp_path: Path) -> None:
    few = generate_sample_lake(tmp_path / "a", ratings=10, movies=300, seed=5)
    many = generate_sample_lake(tmp_path / "b", ratings=9_000, movies=300, seed=5)
    assert few.movies_path.read_bytes() == many.movies_path.read_bytes()


def test_counts_and_genres_match_the_summary(
    lake: SampleLakeSummary, movies: list[list[str]], ratings: list[list[str]]
) -> None:
    assert lake.movie_count == len(movies) - 1 == 1_500
    assert lake.rating_count == len(ratings) - 1 == 30_000
    tokens = {token for _, _, genres in movies[1:] for token in genres.split("|")}
    assert lake.genres == tuple(sorted(tokens))


def test_movies_file_is_exact_rfc4180(lake: SampleLakeSummary, movies: list[list[str]]) -> None:
    raw = lake.movies_path.read_bytes()
    assert b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf")
    assert movies[0] == ["movieId", "title", "genres"]
    assert all(len(row) == 3 for row in movies)
    # Rebuilding the file with minimal quoting must give the same bytes: this
    # catches both missing quotes and needless ones.
    rebuilt = "".join(",".join(rfc4180_field(field) for field in row) + "\n" for row in movies)
    assert rebuilt.encode("utf-8") == raw


def test_movie_ids_are_unique_ascending_with_gaps(movies: list[list[str]]) -> None:
    ids = [int(row[0]) for row in movies[1:]]
    assert all(row[0] == str(movie_id) for row, movie_id in zip(movies[1:], ids, strict=False))
    assert ids[0] >= 1
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert ids[-1] > len(ids)  # there are gaps


def test_genres_use_the_movielens_vocabulary(movies: list[list[str]]) -> None:
    for _, _, genres in movies[1:]:
        if genres == NO_GENRES:
            continue
        tokens = genres.split("|")
        assert set(tokens) <= set(GENRES), genres
        assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens), genres
    no_genres = sum(row[2] == NO_GENRES for row in movies[1:])
    assert 1 <= no_genres <= 0.02 * (len(movies) - 1)


def test_ratings_file_format(lake: SampleLakeSummary, ratings: list[list[str]]) -> None:
    raw = lake.ratings_path.read_bytes()
    assert raw.startswith(b"userId,movieId,rating,timestamp\n")
    assert raw.endswith(b"\n") and b"\r" not in raw and b'"' not in raw
    line = re.compile(r"[1-9]\d*,[1-9]\d*,(?:[0-4]\.[05]|5\.0),[1-9]\d{8,9}")
    for row_text in raw.decode("ascii").splitlines()[1:]:
        assert line.fullmatch(row_text), row_text
    assert ratings[0] == ["userId", "movieId", "rating", "timestamp"]
    assert {row[2] for row in ratings[1:]} <= RATING_VALUES


def test_ratings_are_sorted_unique_and_reference_movies(
    movies: list[list[str]], ratings: list[list[str]]
) -> None:
    movie_ids = {int(row[0]) for row in movies[1:]}
    pairs = [(int(row[0]), int(row[1])) for row in ratings[1:]]
    assert pairs == sorted(set(pairs))
    assert {movie for _, movie in pairs} <= movie_ids
    users = sorted({user for user, _ in pairs})
    assert users == list(range(1, len(users) + 1))  # dense userIds, like ml-latest


def test_timestamps_and_whole_stars_before_half_stars_existed(ratings: list[list[str]]) -> None:
    stamps = [int(row[3]) for row in ratings[1:]]
    assert min(stamps) >= 789_000_000 and max(stamps) <= 1_700_000_000
    early = [row[2] for row in ratings[1:] if int(row[3]) < HALF_STARS_INTRODUCED]
    assert early and all(value.endswith(".0") for value in early)


def test_ratings_are_skewed_like_real_ones(tmp_path: Path) -> None:
    summary = generate_sample_lake(tmp_path, ratings=50_000, movies=5_000, seed=11)
    rows = read_rows(summary.ratings_path)[1:]
    values = Counter(row[2] for row in rows)
    assert sum(values[v] for v in ("3.0", "3.5", "4.0")) > 0.45 * len(rows)
    half = sum(n for v, n in values.items() if v.endswith(".5"))
    assert 0.15 * len(rows) < half < 0.45 * len(rows)
    mean = sum(float(v) * n for v, n in values.items()) / len(rows)
    assert 3.2 < mean < 3.8
    per_movie = sorted(Counter(row[1] for row in rows).values(), reverse=True)
    assert sum(per_movie[:500]) > 0.4 * len(rows)  # top 10% of movies
    per_user = sorted(Counter(row[0] for row in rows).values(), reverse=True)
    assert per_user[0] > 10 * per_user[len(per_user) // 2]


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42, 12345])
def test_real_file_quirks_are_always_present(tmp_path: Path, seed: int) -> None:
    summary = generate_sample_lake(tmp_path, ratings=2_000, movies=50, seed=seed)
    rows = read_rows(summary.movies_path)[1:]
    titles = [title for _, title, _ in rows]
    raw_lines = summary.movies_path.read_text(encoding="utf-8").splitlines()

    assert any(re.search(r',"[^"]*,[^"]*",', line) for line in raw_lines)  # quoted comma
    assert any('""' in line for line in raw_lines)  # doubled inner quote
    assert any('"' in title for title in titles)
    assert any(re.search(r"\(\d{4}-\)$", title) for title in titles)  # (2007-)
    assert any(re.search(r"\(\d{4}-\d{4}\)$", title) for title in titles)  # (1975-1979)
    assert any(re.search(r"\(\d{4}–\d{4}\)$", title) for title in titles)  # en dash
    assert any(not YEAR_AT_END.search(title) for title in titles)  # no year
    assert any(title != title.rstrip() for title in titles)  # trailing space
    assert any("  (" in title for title in titles)  # double space before the year
    assert any(not title.isascii() for title in titles)
    assert len(set(titles)) < len(titles)  # a title shared by two movies
    assert any(genres == NO_GENRES for _, _, genres in rows)
    assert set(summary.genres) == set(GENRES) | {NO_GENRES}

    rated = {row[1] for row in read_rows(summary.ratings_path)[1:]}
    assert any(movie_id not in rated for movie_id, _, _ in rows)  # a movie nobody rated


def test_some_movies_are_unrated_even_with_many_ratings(tmp_path: Path) -> None:
    summary = generate_sample_lake(tmp_path, ratings=40_000, movies=200, seed=9)
    rated = {row[1] for row in read_rows(summary.ratings_path)[1:]}
    movie_ids = [row[0] for row in read_rows(summary.movies_path)[1:]]
    assert 1 <= sum(movie_id not in rated for movie_id in movie_ids) <= 10


@pytest.mark.parametrize(("ratings", "movies"), [(0, 1), (1, 1), (500, 1), (500, 2), (3, 40)])
def test_tiny_lakes(tmp_path: Path, ratings: int, movies: int) -> None:
    summary = generate_sample_lake(tmp_path, ratings=ratings, movies=movies)
    movie_rows = read_rows(summary.movies_path)
    rating_rows = read_rows(summary.ratings_path)
    assert len(movie_rows) - 1 == movies and len(rating_rows) - 1 == ratings
    pairs = [(int(r[0]), int(r[1])) for r in rating_rows[1:]]
    assert pairs == sorted(set(pairs))
    assert {m for _, m in pairs} <= {int(r[0]) for r in movie_rows[1:]}


def test_many_chunks_join_seamlessly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample_data, "_CHUNK_ROWS", 777)
    summary = generate_sample_lake(tmp_path, ratings=10_000, movies=400)
    raw = summary.ratings_path.read_text(encoding="ascii")
    assert raw.count("userId") == 1
    rows = read_rows(summary.ratings_path)[1:]
    assert len(rows) == 10_000 and all(len(row) == 4 for row in rows)
    pairs = [(int(r[0]), int(r[1])) for r in rows]
    assert pairs == sorted(set(pairs))


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = generate_sample_lake(tmp_path, ratings=5_000, movies=300, seed=1)
    before = good.ratings_path.read_bytes()
    calls = 0
    real_format = sample_data._format_rating_rows

    def failing_format(*args: np.ndarray) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk full")
        return real_format(*args)

    monkeypatch.setattr(sample_data, "_CHUNK_ROWS", 500)
    monkeypatch.setattr(sample_data, "_format_rating_rows", failing_format)
    with pytest.raises(OSError, match="disk full"):
        generate_sample_lake(tmp_path, ratings=5_000, movies=300, seed=2)
    assert good.ratings_path.read_bytes() == before
    assert sorted(p.name for p in good.ratings_path.parent.iterdir()) == ["ratings.csv"]


def test_number_formatting_matches_python() -> None:
    rng = np.random.default_rng(0)
    edges = [1, 9, 10, 99, 100, 99_999, 100_000, 100_001, 999_999, 4_294_967_295]
    values = np.concatenate(
        [np.array(edges, dtype=np.uint32), (10 ** rng.uniform(0, 9.6, 5_000)).astype(np.uint32)]
    )
    shuffled = rng.permutation(values)
    half_stars = rng.integers(1, 11, len(values)).astype(np.uint8)
    stamps = values[::-1].copy()
    text = sample_data._format_rating_rows(values, shuffled, half_stars, stamps)
    columns = (values.tolist(), shuffled.tolist(), half_stars.tolist(), stamps.tolist())
    expected = "".join(f"{u},{m},{h / 2:.1f},{t}\n" for u, m, h, t in zip(*columns, strict=False))
    assert text.decode("ascii") == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"movies": 0}, "movies must be >= 1"),
        ({"movies": -5}, "movies must be >= 1"),
        ({"ratings": -1}, "ratings must be >= 0"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"ratings": 2.5}, "ratings must be an integer"),
        ({"movies": "100"}, "movies must be an integer"),
        ({"ratings": True}, "ratings must be an integer"),
        ({"movies": sample_data.MAX_MOVIES + 1}, "movies must be <="),
    ],
)
def test_bad_arguments_raise_value_error(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_sample_lake(tmp_path / "lake", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "lake").exists()
