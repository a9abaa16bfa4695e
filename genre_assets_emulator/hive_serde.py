"""How Hive (and PrestoDB's Hive connector, which uses Hive's serde classes for text tables) reads
the text files of a table: records, fields, escapes, NULLs and typed values.

The emulated presto-cli reads every CSV/TSV table through this model instead of DuckDB's CSV
reader, so an emulated run returns what EMR would return, not what the local engine returns. Each
rule cites its source in docs/aws-fidelity.md; `genre_assets_tests/hive/` checks the model against
Hive's own serde classes (Spark SQL with Hive support) on the same bytes.

- Records: Hadoop's `TextInputFormat` splits a file into lines at `\\n`, `\\r\\n` or `\\r` before any
  serde sees them, so a quoted field never spans lines.
- `OpenCSVSerde` parses one record with opencsv 2.3's `CSVParser.parseLine` (ported below) and
  exposes every column as STRING; missing fields are NULL.
- `LazySimpleSerDe` splits at the field delimiter (not when escaped), reads `\\N` as NULL, unescapes
  strings as `LazyUtils.copyAndEscapeStringDataToText` does (`\\r`, `\\n`, otherwise the next
  character itself) and parses typed columns leniently: a value that does not parse is NULL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation

NULL_FORMAT = "\\N"  # LazySimpleSerDe's default serialization.null.format

_RECORD_END = re.compile(r"\r\n|\n|\r")


def text_records(data: bytes, skip_header_lines: int = 0) -> Iterator[str]:
    """The records `TextInputFormat` gives a serde, header lines skipped (per file)."""
    text = data.decode("utf-8", errors="replace")
    lines = _RECORD_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the terminator of the last line does not start another record
    yield from lines[skip_header_lines:]


def open_csv_fields(line: str, separator: str, quote: str, escape: str) -> list[str]:
    """opencsv 2.3 `CSVReader.readNext` over a one-line reader, as `OpenCSVSerde.deserialize`
    calls it: the fields completed on the line; a quoted field still open at the end of the line
    is dropped (the reader has no next line to continue it with)."""
    tokens: list[str] = []
    field: list[str] = []
    in_quotes = False
    in_field = False
    i = 0
    length = len(line)
    while i < length:
        c = line[i]
        nxt = line[i + 1] if i + 1 < length else None
        if c == escape:
            # isNextCharacterEscapable: only inside quotes or a field, and only before the quote
            # or the escape itself. A lone escape character is dropped.
            if (in_quotes or in_field) and nxt is not None and nxt in (quote, escape):
                field.append(nxt)
                i += 1
        elif c == quote:
            if (in_quotes or in_field) and nxt == quote:  # isNextCharacterEscapedQuote
                field.append(nxt)
                i += 1
            else:
                # opencsv keeps a quote in the middle of a field (a,bc"d"ef,g) as a character.
                if i > 2 and line[i - 1] != separator and nxt is not None and nxt != separator:
                    field.append(c)
                in_quotes = not in_quotes
            in_field = not in_field
        elif c == separator and not in_quotes:
            tokens.append("".join(field))
            field = []
            in_field = False
        else:
            field.append(c)
            in_field = True
        i += 1
    if not in_quotes:
        tokens.append("".join(field))
    return tokens


def lazy_simple_fields(line: str, delimiter: str, escape: str | None) -> list[str | None]:
    """LazySimpleSerDe's split of one record: raw field texts, `\\N` as NULL (None)."""
    fields: list[str] = []
    start = 0
    i = 0
    while i < len(line):
        if escape is not None and line[i] == escape and i + 1 < len(line):
            i += 2  # an escaped delimiter does not end the field
            continue
        if line[i] == delimiter:
            fields.append(line[start:i])
            start = i + 1
        i += 1
    fields.append(line[start:])
    return [None if f == NULL_FORMAT else f for f in fields]


def unescape(value: str, escape: str | None) -> str:
    """LazyUtils.copyAndEscapeStringDataToText: `\\r` and `\\n` become CR and LF, any other escaped
    character is itself (so `\\\\` is a backslash but `\\t` is the letter t)."""
    if escape is None or escape not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == escape and i < len(value) - 1:
            i += 1
            out.append({"r": "\r", "n": "\n"}.get(value[i], value[i]))
        else:
            out.append(c)
        i += 1
    return "".join(out)


_INTEGER = re.compile(r"[+-]?\d+")
_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)")
_INT_RANGES = {"int": 2**31, "bigint": 2**63}


def typed_value(text: str | None, hive_type: str, escape: str | None = None) -> object:
    """A field's value as a lazy Hive object reads it; None (NULL) when it does not parse."""
    if text is None:
        return None
    hive_type = hive_type.lower()
    if hive_type == "string":
        return unescape(text, escape)
    if hive_type in _INT_RANGES:
        # LazyLong / LazyInteger.parse: optional sign and digits only, no white space.
        if not _INTEGER.fullmatch(text):
            return None
        value = int(text)
        limit = _INT_RANGES[hive_type]
        return value if -limit <= value < limit else None
    if hive_type == "double":
        # LazyDouble: Double.parseDouble, which trims white space and takes Java's literals.
        stripped = text.strip()
        if not _JAVA_DOUBLE.fullmatch(stripped):
            return None
        return float(stripped.rstrip("fFdD"))
    if hive_type.startswith("decimal"):
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            return None
    raise ValueError(f"Hive type {hive_type!r} is not modelled")


def read_rows(
    data: bytes,
    *,
    serde: str,
    parameters: dict[str, str],
    column_types: Sequence[str],
    skip_header_lines: int,
) -> list[tuple[object, ...]]:
    """Every row of one text file of a table, as Hive's serde returns it."""
    rows: list[tuple[object, ...]] = []
    count = len(column_types)
    for line in text_records(data, skip_header_lines):
        if serde.endswith("OpenCSVSerde"):
            fields: list[str | None] = list(
                open_csv_fields(
                    line,
                    parameters.get("separatorChar", ",")[:1] or ",",
                    parameters.get("quoteChar", '"')[:1] or '"',
                    parameters.get("escapeChar", "\\")[:1] or "\\",
                )
            )
            # OpenCSVSerde: every column is a STRING, whatever the DDL declared.
            values = [fields[i] if i < len(fields) else None for i in range(count)]
        elif serde.endswith("LazySimpleSerDe"):
            delimiter = parameters.get(
                "field.delim", parameters.get("serialization.format", "\x01")
            )
            escape = parameters.get("escape.delim") or None
            fields = lazy_simple_fields(line, delimiter[:1], escape)
            values = [
                typed_value(fields[i] if i < len(fields) else None, column_types[i], escape)
                for i in range(count)
            ]
        else:
            raise ValueError(f"serde {serde!r} is not modelled")
        rows.append(tuple(values))
    return rows
