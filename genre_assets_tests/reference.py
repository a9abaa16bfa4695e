"""A plain-Python computation of the output contract (docs/contract.md), independent of any SQL.

Tests compare the engines' TSVs with `expected_tsv()`; nothing here imports the package's query
code, so a bug in the SQL or its transpilation cannot hide in both places at once.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

_SUFFIX = re.compile(r"\((\d{4})(?:[-\u2013](?:\d{4})?)?\)$")
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f]+")
HEADER = "movie_id\ttitle\tyear\tavg_rating\trating_count"


def split_title(raw: str) -> tuple[str, int | None]:
    # Python's str.strip() also strips Unicode spaces; SQL trim() strips only ' ', so do that.
    title = _CONTROL_RUN.sub(" ", raw).strip(" ")
    match = _SUFFIX.search(title)
    if not match:
        return title, None
    return title[: match.start()].strip(" "), int(match.group(1))


def _read_csvs(folder: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in sorted(folder.glob("*.csv")):
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
        next(reader)
        rows.extend(reader)
    return rows


def expected_rows(lake: Path, genre: str) -> list[tuple[int, str, int | None, Decimal, int]]:
    movies = {}
    for movie_id, title, genres in _read_csvs(lake / "movielens" / "movies"):
        if genre in genres.split("|"):
            movies[int(movie_id)] = split_title(title)
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
    for _user, movie_id, rating, _ts in _read_csvs(lake / "movielens" / "ratings"):
        if int(movie_id) in movies and 0.5 <= float(rating) <= 5.0:
            total = totals[int(movie_id)]
            total[0] += float(rating)
            total[1] += 1
    rows = []
    for movie_id, (total, count) in totals.items():
        title, year = movies[movie_id]
        # Engines cast the double mean to DECIMAL(10,4); Presto rounds half up from the shortest
        # decimal repr of the double, which is what Decimal(repr(...)) reproduces.
        average = Decimal(repr(total / count)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        rows.append((movie_id, title, year, average, count))
    rows.sort(key=lambda r: (r[2] is None, -(r[2] or 0), r[1], r[0]))
    return rows


def expected_tsv(lake: Path, genre: str) -> str:
    lines = [HEADER]
    for movie_id, title, year, average, count in expected_rows(lake, genre):
        escaped = title.replace("\\", "\\\\")
        lines.append(f"{movie_id}\t{escaped}\t{'' if year is None else year}\t{average}\t{count}")
    return "\n".join(lines) + "\n"
