"""presto-cli's `--output-format TSV`: how each value is printed and escaped.

Presto's TsvPrinter prints `String.valueOf(value)` for each field (the empty string for NULL),
escapes it with the rules in `genre_assets.domain.tsv.escape_field`, joins fields with a tab and ends
every row with `\\n`. The values reach presto-cli as Java objects, so numbers print as Java
would print them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal

from genre_assets.domain.tsv import escape_field


def java_double(value: float) -> str:
    """Java's Double.toString: plain for 1e-3 <= |x| < 1e7, else d.dddE<n>; always a '.'."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    # repr() gives the shortest digits that round-trip, as Java (JDK 19+) does.
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    assert isinstance(exponent, int)  # a finite value: never 'n' (NaN) or 'F' (infinity)
    point = len(text) + exponent  # digits before the decimal point
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            body = "0." + "0" * -point + text
        elif point >= len(text):
            body = text + "0" * (point - len(text)) + ".0"
        else:
            body = text[:point] + "." + text[point:]
    else:
        body = f"{text[0]}.{text[1:] or '0'}E{point - 1}"
    return ("-" if sign else "") + body


def format_value(value: object) -> str:
    """One field as presto-cli prints it, before escaping."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, Decimal):
        # Python's str(Decimal) follows the same specification as Java's BigDecimal.toString
        # (plain unless the adjusted exponent is below -6): DECIMAL(10,4) 3.5 prints 3.5000.
        return str(value)
    if isinstance(value, dt.datetime):
        # Presto prints TIMESTAMP with milliseconds.
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, bytes):
        # VARBINARY: an approximation of presto-cli's hex dump (genre-assets prints none).
        return value.hex(" ")
    return str(value)


def format_row(row: Sequence[object]) -> str:
    return "\t".join(escape_field(format_value(v)) for v in row) + "\n"
