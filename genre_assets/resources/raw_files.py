"""Finds and sanity-checks the raw MovieLens CSVs in the lake before any table is defined.

A source table over a missing folder or a file with the wrong columns would "succeed" and then
return nothing or nonsense; these checks turn that into an error naming the file (and, in a lake
without any raw data, the command that creates sample data).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from genre_assets.domain.schema import SOURCE_TABLES, TableSpec
from genre_assets.errors import InputError
from genre_assets.resources.lake import LakeObject, LakeResource

_HEAD_BYTES = 64 * 1024
# One RFC 4180 record on one line: fields either without quotes, or quoted with inner quotes
# doubled. Both engines read such a line the same way (docs/aws-fidelity.md).
_RFC4180_FIELD = r'(?:[^",\r\n]*|"(?:[^"]|"")*")'
_RFC4180_ROW = re.compile(f"{_RFC4180_FIELD}(?:,{_RFC4180_FIELD})*")
_RFC4180_LINES = re.compile(f"(?:{_RFC4180_ROW.pattern}\r?\n)*(?:{_RFC4180_ROW.pattern}\r?)?")


def source_files(lake: LakeResource, table: TableSpec) -> list[LakeObject]:
    """The table's data files, each with a valid header; raises InputError naming the problem."""
    files = _data_files(lake, table)
    if not files:
        message = (
            f"no {table.file_suffix} files in {lake.uri(table.folder)}: the {table.name} table "
            f"needs MovieLens {table.name}.csv data there"
        )
        if not any(_data_files(lake, other) for other in SOURCE_TABLES if other != table):
            # No raw data at all: most likely a first try, which sample data is the way out of.
            message += f"; to try genre-assets without MovieLens data, {lake.sample_data_hint()}"
        raise InputError(message)
    for obj in files:
        check_header(lake, table, obj)
    return files


def _data_files(lake: LakeResource, table: TableSpec) -> list[LakeObject]:
    return [o for o in lake.list_objects(table.folder) if o.key.endswith(table.file_suffix)]


def check_header(lake: LakeResource, table: TableSpec, obj: LakeObject) -> None:
    head = lake.read_head(obj.key, _HEAD_BYTES)
    if not head.strip():
        raise InputError(f"{lake.uri(obj.key)}, line 1: the file is empty (not even a header)")
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first_line.startswith(b"\xef\xbb\xbf"):
        first_line = first_line[3:]
    expected = list(table.csv_header)
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
    """Validate every movies file and count movies and genre tokens, independently of any engine.

    movies.csv is small (about 3 MB for 87k films), so it is parsed whole with Python's csv
    module, on S3 too; any problem is an InputError naming the file and line (RELIABILITY.md).
    """
    movie_count = 0
    # Movies share few distinct genre lists (about 1,600 among 87k films): count the lists,
    # then split each list once.
    genre_lists: Counter[str] = Counter()
    first_line_of: dict[int, tuple[str, int]] = {}
    for obj in files:
        source = lake.uri(obj.key)
        for line, movie_id, genres in _movie_rows(lake.read_bytes(obj.key), source):
            if movie_id in first_line_of:
                first_source, first_line = first_line_of[movie_id]
                raise InputError(
                    f"{source}, line {line}: movieId {movie_id} was already defined at "
                    f"{first_source}, line {first_line}"
                )
            first_line_of[movie_id] = (source, line)
            movie_count += 1
            genre_lists[genres] += 1
    genre_counts: Counter[str] = Counter()
    for genres, movies in genre_lists.items():
        for genre in set(genres.split("|")):
            genre_counts[genre] += movies
    return MovieSummary(movie_count=movie_count, genre_counts=dict(genre_counts))


def _movie_rows(data: bytes, source: str):
    """(line, movieId, genres) for each data row; raises InputError on anything malformed."""
    if not data.strip():
        raise InputError(f"{source}: the file is empty (not even a header)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            f"{source}, line {line}: bytes that are not UTF-8 ({error.reason})"
        ) from None
    lines = text.split("\n")
    # One C-speed match proves every line a whole RFC 4180 row; only a file that fails it pays
    # for the per-line check below, which finds and names the line.
    every_line_is_a_row = _RFC4180_LINES.fullmatch(text) is not None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        next(reader, None)
        start = reader.line_num + 1
        for row in reader:
            if len(row) != 3:
                raise InputError(
                    f"{source}, line {start}: {len(row)} field(s), expected 3 (movieId,title,genres)"
                    + (
                        " - is a quote left open?"
                        if len(row) < 3 and reader.line_num > start
                        else ""
                    )
                )
            if reader.line_num > start:
                # Hive's TextInputFormat cuts records at every line break before the CSV serde
                # sees them, so on EMR this film would become two broken rows
                # (docs/aws-fidelity.md); refused on every deployment so both agree.
                raise InputError(
                    f"{source}, line {start}: a quoted field runs on to line {reader.line_num}; "
                    "Hive (EMR) reads CSV one line at a time and would split this film in two: "
                    "put the whole row on one line"
                )
            if not every_line_is_a_row and not _RFC4180_ROW.fullmatch(
                lines[start - 1].rstrip("\r")
            ):
                # Python's reader takes a stray quote literally; Hive's CSV serde (opencsv)
                # opens a quoted field there and loses the rest of the row on EMR.
                raise InputError(
                    f"{source}, line {start}: a quote inside an unquoted field (or spaces before "
                    'an opening quote); quote the whole field and double inner quotes: "A ""B"" C"'
                )
            movie_id = row[0].strip()
            if not movie_id.isdigit():
                raise InputError(
                    f"{source}, line {start}: movieId {row[0]!r} is not a whole number"
                )
            yield start, int(movie_id), row[2]
            start = reader.line_num + 1
    except csv.Error as error:
        raise InputError(f"{source}, line {start}: {error} (a quote is left open?)") from None


def locate_fraction(path: Path, source: str, table: TableSpec, column: str) -> str | None:
    """Where a delimited file first holds a number that is not whole in `column`, as
    "<source>, line N: <header> '<value>' is not a whole number"; None if it holds none.

    The engine refuses such a value without knowing its line; this finds the line afterwards,
    so it costs a scan only when a file is already known to be bad.
    """
    index = table.column_names.index(column)
    header = list(table.csv_header)[index]
    with path.open("rb") as lines:
        next(lines, None)
        for number, line in enumerate(lines, start=2):
            fields = line.rstrip(b"\r\n").split(b",")
            if len(fields) <= index:
                continue
            value = fields[index].decode("utf-8", "replace")
            try:
                whole = float(value).is_integer()
            except ValueError:
                continue  # not a number at all: the CSV reader reports those itself
            if not whole:
                return f"{source}, line {number}: {header} {value.strip()!r} is not a whole number"
    return None
