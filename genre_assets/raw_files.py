"""Finds and sanity-checks the raw MovieLens CSVs in the lake before any table is defined.

A source table over a missing folder or a file with the wrong columns would "succeed" and then
return nothing or nonsense; these checks turn that into an error naming the file.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

from genre_assets.errors import InputError
from genre_assets.resources.lake import LakeObject, LakeResource
from genre_assets.schema import MOVIES, RATINGS, TableSpec

EXPECTED_HEADERS: dict[str, list[str]] = {
    MOVIES.name: ["movieId", "title", "genres"],
    RATINGS.name: ["userId", "movieId", "rating", "timestamp"],
}
_HEAD_BYTES = 64 * 1024


def source_files(lake: LakeResource, table: TableSpec) -> list[LakeObject]:
    """The table's data files, each with a valid header; raises InputError naming the problem."""
    files = [o for o in lake.list_objects(table.folder) if o.key.endswith(table.file_suffix)]
    if not files:
        raise InputError(
            f"no {table.file_suffix} files in {lake.uri(table.folder)}: the {table.name} table "
            f"needs MovieLens {table.name}.csv data there"
        )
    for obj in files:
        check_header(lake, table, obj)
    return files


def check_header(lake: LakeResource, table: TableSpec, obj: LakeObject) -> None:
    head = lake.read_head(obj.key, _HEAD_BYTES)
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first_line.startswith(b"\xef\xbb\xbf"):
        first_line = first_line[3:]
    expected = EXPECTED_HEADERS[table.name]
    try:
        found = next(csv.reader([first_line.decode("utf-8")]), [])
    except UnicodeDecodeError:
        raise InputError(f"{lake.uri(obj.key)}, line 1: the header is not UTF-8 text") from None
    if found != expected:
        raise InputError(
            f"{lake.uri(obj.key)}, line 1: expected the header {','.join(expected)!r}, "
            f"found {first_line.decode('utf-8', 'replace')[:200]!r}"
        )


@dataclass(frozen=True)
class MovieSummary:
    movie_count: int
    genre_counts: dict[str, int]  # genre token -> number of movies that have it


def summarize_movies(lake: LakeResource, files: list[LakeObject]) -> MovieSummary:
    """Count movies and genre tokens with Python's csv module, independently of any engine.

    movies.csv is small (about 3 MB for 87k films), so reading it whole is cheap on S3 too.
    """
    movie_count = 0
    genre_counts: Counter[str] = Counter()
    for obj in files:
        text = lake.read_bytes(obj.key).decode("utf-8-sig", errors="replace")
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader, None)
        for row in reader:
            if len(row) != 3:
                continue
            movie_count += 1
            genre_counts.update(set(row[2].split("|")))
    return MovieSummary(movie_count=movie_count, genre_counts=dict(genre_counts))
