"""The genre export's file format: presto-cli's TSV with a header row (docs/contract.md).

presto-cli's TsvPrinter escapes `\\0 \\b \\f \\n \\r \\t` and the backslash itself. Hive's
`ESCAPED BY '\\\\'` reads back only `\\n`, `\\r` and an escaped character as itself (so `\\\\`
is a backslash but `\\t` is the letter t): the query turns control characters in titles into
spaces, so the backslash is the only escape an export ever holds. This module reads an export back
(asset checks, previews) with Hive's rule, and holds the printer's escaping for tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from genre_assets.domain.schema import GENRE_FILM_COLUMNS
from genre_assets.errors import InputError

HEADER = [column.name for column in GENRE_FILM_COLUMNS]
TSV_HEADER = "\t".join(HEADER)

_ESCAPES = {
    "\0": "\\0",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\\": "\\\\",
}
# Hive's LazyUtils.copyAndEscapeStringDataToText: only r and n stand for control characters.
_UNESCAPES = {"r": "\r", "n": "\n"}


def escape_field(value: str) -> str:
    """Escape one field as presto-cli's TsvPrinter does."""
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def unescape_field(value: str) -> str:
    if "\\" not in value:  # nearly every title: skip the per-character loop
        return value
    out = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "\\")  # a backslash at the very end stays itself
            out.append(_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


class FilmRow(NamedTuple):
    movie_id: int
    title: str
    year: int | None
    avg_rating: Decimal
    rating_count: int


def iter_export(data: bytes, source: str, limit: int | None = None) -> Iterator[FilmRow]:
    """The rows of a genre export (the first `limit` when given), one at a time, so a caller
    that only summarises keeps nothing alive; raises InputError naming `source` and the line
    when the file is malformed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{source}: not UTF-8 at byte {error.start}") from None
    if not text.endswith("\n"):
        raise InputError(f"{source}: the last line is not terminated by a newline")
    lines = text[:-1].split("\n")
    if lines[0].split("\t") != HEADER:
        raise InputError(f"{source}, line 1: expected the header {chr(9).join(HEADER)!r}")
    body = lines[1:] if limit is None else lines[1 : 1 + limit]
    for number, line in enumerate(body, start=2):
        fields = line.split("\t")
        if len(fields) != len(HEADER):
            raise InputError(
                f"{source}, line {number}: {len(fields)} fields, expected {len(HEADER)}"
            )
        try:
            row = FilmRow(
                movie_id=int(fields[0]),
                title=unescape_field(fields[1]),
                year=int(fields[2]) if fields[2] else None,
                avg_rating=Decimal(fields[3]),
                rating_count=int(fields[4]),
            )
        except (ValueError, InvalidOperation) as error:
            raise InputError(f"{source}, line {number}: {error}") from None
        yield row


def parse_export(data: bytes, source: str, limit: int | None = None) -> list[FilmRow]:
    """Every row of a genre export (the first `limit` when given, e.g. for a preview)."""
    return list(iter_export(data, source, limit))


PREVIEW_ROWS = 5


def preview_markdown(rows: list[FilmRow], limit: int = PREVIEW_ROWS) -> str:
    """The first rows as a Markdown table for the Dagster UI."""
    header = "| " + " | ".join(HEADER) + " |\n|" + "---|" * len(HEADER) + "\n"
    body = "".join(
        f"| {r.movie_id} | {_markdown_cell(r.title)} | {r.year or ''} | {r.avg_rating} "
        f"| {r.rating_count} |\n"
        for r in rows[:limit]
    )
    return header + body


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")
