"""How Hive (and PrestoDB's Hive connector, which uses Hive's serde classes for text tables) reads
the text files of a table: records, fields, escapes, NULLs and typed values.

The emulated presto-cli reads every CSV/TSV table through this model instead of DuckDB's CSV
reader, so an emulated run returns what EMR would return, not what the local engine returns. Each
rule cites its source in docs/aws-fidelity.md; `genre_assets_tests/hive/test_serde_model.py`
checks the model against Hive's own serde classes (Hive 2.3.9 and opencsv 2.3 inside Spark SQL
with Hive support) on the same bytes, case by case.

- Records: Hadoop's `TextInputFormat` (`LineReader`) splits a file into lines at `\\n`, `\\r\\n` or
  `\\r` before any serde sees them, so a quoted field never spans lines.
- `OpenCSVSerde` parses one record with opencsv 2.3's `CSVReader.readNext` (`CSVParser`, ported
  below) and exposes every column as STRING; missing fields are NULL, and so is every column of
  an empty record.
- `LazySimpleSerDe` splits at the field delimiter (not when escaped), reads `\\N` as NULL, unescapes
  strings as `LazyUtils.copyAndEscapeStringDataToText` does (`\\r`, `\\n`, otherwise the next
  character itself) and parses typed columns leniently, as `LazyLong`, `LazyInteger`,
  `LazyDouble` and `LazyHiveDecimal` do: a value that does not parse is NULL, an integer column
  truncates `1.5` to 1, a decimal column rounds half up to its scale.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal

NULL_FORMAT = "\\N"  # LazySimpleSerDe's default serialization.null.format

_RECORD_END = re.compile(r"\r\n|\n|\r")


def text_records(data: bytes, skip_header_lines: int = 0) -> Iterator[str]:
    """The records `TextInputFormat` gives a serde, header lines skipped (per file)."""
    text = data.decode("utf-8", errors="replace")
    lines = _RECORD_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the terminator of the last line does not start another record
    yield from lines[skip_header_lines:]


# --- OpenCSVSerde ---------------------------------------------------------------------------

# opencsv's CSVWriter.DEFAULT_ESCAPE_CHARACTER: OpenCSVSerde's default escapeChar, and the value
# for which OpenCSVSerde.newReader builds a CSVReader with opencsv's default escape, a backslash.
_CSV_WRITER_DEFAULT_ESCAPE = '"'
_CSV_PARSER_DEFAULT_ESCAPE = "\\"


def _java_is_whitespace(ch: str) -> bool:
    """java.lang.Character.isWhitespace: Unicode space separators other than the no-break ones,
    and TAB, LF, VT, FF, CR and the four information separators U+001C..U+001F."""
    if ch in "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f":
        return True
    if ch in "\u00a0\u2007\u202f":
        return False
    return ch == " " or ch in "\u1680\u2028\u2029\u205f\u3000" or "\u2000" <= ch <= "\u200a"


def open_csv_fields(line: str, separator: str, quote: str, escape: str) -> list[str] | None:
    """opencsv 2.3 `CSVReader.readNext` over a one-line reader, as `OpenCSVSerde.deserialize`
    calls it (`CSVParser(separator, quote, escape, strictQuotes=false,
    ignoreLeadingWhiteSpace=true).parseLineMulti`): the fields completed on the line; a quoted
    field still open at the end of the line is dropped (the reader has no next line to continue
    it with). None when the record completes no field at all, an empty record (for which
    `BufferedReader.readLine` gives no line) or one whose first field is still quoted at its end:
    `readNext` returns null then, and OpenCSVSerde makes every column NULL."""
    if line == "":
        return None
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
                # The "embedded quote in the middle" rule (a,bc"d"ef,g keeps its quotes): not in
                # the first three characters of the line, not right after a separator, not last
                # and not right before a separator.
                if i > 2 and line[i - 1] != separator and nxt is not None and nxt != separator:
                    # ignoreLeadingWhiteSpace: white space before the quote is discarded
                    # (`1,  "b",c` reads b) instead of the quote being kept.
                    if field and all(_java_is_whitespace(ch) for ch in field):
                        field = []
                    else:
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
    return tokens or None


def _open_csv_characters(parameters: dict[str, str]) -> tuple[str, str, str]:
    """OpenCSVSerde.initialize: the first character of each property, else its default; an
    escapeChar equal to CSVWriter's default escape (`"`, also the default when it is not set)
    makes `newReader` use CSVParser's default escape, a backslash."""
    separator = parameters.get("separatorChar", ",")[:1]
    quote = parameters.get("quoteChar", '"')[:1]
    escape = parameters.get("escapeChar", _CSV_WRITER_DEFAULT_ESCAPE)[:1]
    if not separator or not quote or not escape:
        # String.charAt(0) of an empty property: the serde cannot be initialised.
        raise ValueError("OpenCSVSerde: an empty separatorChar, quoteChar or escapeChar")
    if escape == _CSV_WRITER_DEFAULT_ESCAPE:
        escape = _CSV_PARSER_DEFAULT_ESCAPE
    # CSVParser's constructor: the three must differ (NUL never counts as equal) and the
    # separator must not be NUL.
    pairs = ((separator, quote), (separator, escape), (quote, escape))
    if any(a != "\0" and a == b for a, b in pairs) or separator == "\0":
        raise ValueError("OpenCSVSerde: separator, quote and escape characters must differ")
    return separator, quote, escape


# --- LazySimpleSerDe ------------------------------------------------------------------------


def lazy_simple_fields(line: str, delimiter: str, escape: str | None) -> list[str | None]:
    """LazySimpleSerDe's split of one record (`LazyStruct.parse`): raw field texts, `\\N` as NULL
    (None). Fields past the table's columns are ignored by the caller."""
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
    character is itself (so `\\\\` is a backslash but `\\t` is the letter t); an escape character
    at the very end is kept."""
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


def _is_number_maybe(raw: bytes) -> bool:
    """LazyUtils.isNumberMaybe, the cheap pre-check of LazyLong, LazyInteger and LazyDouble (on
    the UTF-8 bytes): empty is NULL, one byte must be an ASCII digit, two bytes need a digit, and
    four bytes starting with N or n (null, NULL, but also `NaN `) are NULL."""
    if len(raw) == 0:
        return False
    if len(raw) == 1:
        return raw.isdigit()
    if len(raw) == 2:
        return raw[:1].isdigit() or raw[1:].isdigit()
    return not (len(raw) == 4 and raw[:1] in (b"N", b"n"))


def _lazy_integer(raw: bytes, bits: int) -> int | None:
    """LazyLong.parseLong / LazyInteger.parseInt (radix 10): an optional sign, ASCII digits and
    optionally `.` and more digits, which are checked but dropped (`1.9` reads 1, `.5` reads 0);
    no white space; out of range is NULL."""
    if not _is_number_maybe(raw):
        return None
    negative = raw[:1] == b"-"
    i = 1 if negative or raw[:1] == b"+" else 0
    if i == len(raw):
        return None  # a sign alone
    value = 0
    while i < len(raw):
        b = raw[i]
        i += 1
        if 0x30 <= b <= 0x39:
            value = value * 10 + (b - 0x30)
            if value > 2 ** (bits - 1):  # the negative accumulator overflows: NumberFormatException
                return None
        elif b == 0x2E:  # the decimal separator: the rest must be digits
            if not raw[i:].isdigit() and raw[i:] != b"":
                return None
            break
        else:
            return None
    if not negative and value == 2 ** (bits - 1):
        return None  # MAX_VALUE + 1 fits only as a negative number
    return -value if negative else value


# java.lang.Double.parseDouble after String.trim(): decimal or hexadecimal floating point (with an
# optional f/F/d/D suffix), NaN and Infinity (without one). ASCII digits only.
_JAVA_DECIMAL_FLOAT = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?", re.ASCII
)
_JAVA_HEX_FLOAT = re.compile(
    r"([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)[fFdD]?",
    re.ASCII,
)
_JAVA_SPECIAL_FLOAT = re.compile(r"([+-]?)(NaN|Infinity)")


def _lazy_double(raw: bytes) -> float | None:
    """LazyDouble: isNumberMaybe, then Double.parseDouble, which trims every char <= U+0020."""
    if not _is_number_maybe(raw):
        return None
    try:
        text = raw.decode("utf-8")  # Text.decode: malformed UTF-8 is NULL
    except UnicodeDecodeError:
        return None
    text = text.strip("".join(chr(c) for c in range(0x21)))
    if _JAVA_DECIMAL_FLOAT.fullmatch(text):
        return float(text.rstrip("fFdD"))
    hexadecimal = _JAVA_HEX_FLOAT.fullmatch(text)
    if hexadecimal:
        try:
            value = float.fromhex(hexadecimal.group(2))
        except OverflowError:
            value = float("inf")  # Java rounds a too large literal to Infinity
        return -value if hexadecimal.group(1) == "-" else value
    special = _JAVA_SPECIAL_FLOAT.fullmatch(text)
    if special:
        value = float("nan" if special.group(2) == "NaN" else "inf")
        return -value if special.group(1) == "-" else value
    return None


# FastHiveDecimalImpl.fastSetFromBytes (trimBlanks=false, as HiveDecimalWritable.setFromBytes
# calls it): [+|-][integer digits][.[fraction digits]][{E|e}[+|-]exponent digits], at least one
# integer or fraction digit, no white space, ASCII digits only.
_HIVE_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?", re.ASCII)
_HIVE_MAX_PRECISION = 38  # HiveDecimal.MAX_PRECISION, also MAX_SCALE
_DECIMAL_TYPE = re.compile(r"decimal(?:\((\d+)(?:,\s*(\d+))?\))?")


# Exact arithmetic on up to 38 + 99 digits (Python's default context keeps 28).
_EXACT = Context(prec=200, rounding=ROUND_HALF_UP)


def _round_to_scale(value: Decimal, scale: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-scale, _EXACT), context=_EXACT)


def _integer_digits(value: Decimal) -> int:
    whole = abs(value.to_integral_value(rounding=ROUND_DOWN, context=_EXACT))
    return 0 if whole == 0 else len(str(whole))


def _lazy_decimal(raw: bytes, precision: int, scale: int) -> Decimal | None:
    """LazyHiveDecimal: HiveDecimalWritable.setFromBytes (a HiveDecimal of at most 38 digits,
    rounded half up, exponents of at most two significant digits), then
    mutateEnforcePrecisionScale(precision, scale): rounded half up to `scale`, NULL when more
    than precision - scale integer digits remain. Zero has no sign."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    match = _HIVE_DECIMAL.fullmatch(text)
    if match is None:
        return None
    sign, integer, fraction, exponent_sign, exponent = match.groups()
    fraction = fraction or ""
    if not integer and not fraction:
        return None  # a naked dot
    if not integer and exponent is not None and len(fraction) <= _HIVE_MAX_PRECISION:
        # With no integer digit, a non-digit within the first 38 fraction digits is refused as
        # a "naked dot" (past 38 digits the parser skips to the exponent without that check).
        return None
    significant = integer.lstrip("0")
    if len(significant) > _HIVE_MAX_PRECISION:
        return None  # no room for the integer digits
    # The 38 digits the parser keeps; the first dropped fraction digit rounds half up.
    value = _round_to_scale(
        Decimal(f"{significant or '0'}.{fraction or '0'}"),
        min(len(fraction), _HIVE_MAX_PRECISION - len(significant)),
    )
    if _integer_digits(value) > _HIVE_MAX_PRECISION:
        return None  # rounding up 38 nines overflows
    if exponent is not None:
        power = exponent.lstrip("0")
        if len(power) > 2:
            return None  # "Power of ten way beyond our precision/scale"
        if value != 0 and power:
            value = value.scaleb(int(power) * (-1 if exponent_sign == "-" else 1), _EXACT)
            if _integer_digits(value) > _HIVE_MAX_PRECISION:
                return None
            value_exponent = value.as_tuple().exponent
            if isinstance(value_exponent, int) and -value_exponent > _HIVE_MAX_PRECISION:
                value = _round_to_scale(value, _HIVE_MAX_PRECISION)
    value = _round_to_scale(value, scale)
    if _integer_digits(value) > precision - scale:
        return None
    if value == 0:
        return abs(value)
    return -value if sign == "-" else value


_INTEGER_BITS = {"int": 32, "bigint": 64}


def typed_value(text: str | None, hive_type: str, escape: str | None = None) -> object:
    """A field's value as a lazy Hive object reads it; None (NULL) when it does not parse.

    Numbers are parsed from the raw field (escapes are not removed first), as LazyStruct hands
    the raw bytes to LazyLong, LazyInteger, LazyDouble and LazyHiveDecimal."""
    if text is None:
        return None
    hive_type = hive_type.lower().replace(" ", "")
    if hive_type == "string":
        return unescape(text, escape)
    raw = text.encode("utf-8")
    if hive_type in _INTEGER_BITS:
        return _lazy_integer(raw, _INTEGER_BITS[hive_type])
    if hive_type == "double":
        return _lazy_double(raw)
    decimal = _DECIMAL_TYPE.fullmatch(hive_type)
    if decimal:
        # Hive's DECIMAL without (p,s) is DECIMAL(10,0).
        precision = int(decimal.group(1) or 10)
        return _lazy_decimal(raw, precision, int(decimal.group(2) or 0))
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
    if serde.endswith("OpenCSVSerde"):
        separator, quote, escape = _open_csv_characters(parameters)
    elif serde.endswith("LazySimpleSerDe"):
        delimiter = parameters.get("field.delim", parameters.get("serialization.format", "\x01"))
        escape_delim = parameters.get("escape.delim") or None
    else:
        raise ValueError(f"serde {serde!r} is not modelled")
    for line in text_records(data, skip_header_lines):
        values: list[object]
        if serde.endswith("OpenCSVSerde"):
            fields = open_csv_fields(line, separator, quote, escape) or []
            # OpenCSVSerde: every column is a STRING, whatever the DDL declared.
            values = [fields[i] if i < len(fields) else None for i in range(count)]
        else:
            split = lazy_simple_fields(line, delimiter[:1], escape_delim)
            values = [
                typed_value(split[i] if i < len(split) else None, column_types[i], escape_delim)
                for i in range(count)
            ]
        rows.append(tuple(values))
    return rows
