"""Running rendered Hive scripts on the Spark session and reading tables back, for the tests in
this directory."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from genre_assets.rendering import string_literal


def split_statements(script: str) -> list[str]:
    """Split a script on `;` outside '...', "..." and `...` literals (with backslash escapes, as
    Hive reads them) and outside `--` comments; drop pieces that hold only comments.

    The genre table's column comment "first year of the title's suffix; NULL when it has none"
    holds a `;`, so a plain split would break it."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(script):
        ch = script[i]
        if quote:
            current.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < len(script):
                current.append(script[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif script.startswith("--", i):
            end = script.find("\n", i)
            end = len(script) if end < 0 else end
            current.append(script[i:end])
            i = end
            continue
        elif ch in "'\"`":
            quote = ch
            current.append(ch)
        elif ch == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current))
    if quote:
        raise ValueError(f"unterminated {quote} literal in script")
    return [s.strip() for s in statements if re.sub(r"--[^\n]*", "", s).strip()]


def run_script(spark: Any, script: str) -> list[str]:
    """Run every statement of a rendered script; the statements run, for counting."""
    statements = split_statements(script)
    for statement in statements:
        spark.sql(statement)
    return statements


def location(folder: Path) -> str:
    """A LOCATION for a local folder: file:///abs/path/ (s3://bucket/key/ on EMR)."""
    return folder.resolve().as_uri() + "/"


def metastore_location(folder: Path) -> str:
    """LOCATION as the metastore keeps it: Hadoop's Path turns file:///a/b/ into file:/a/b."""
    return "file:" + str(folder.resolve())


def storage_parameters(spark: Any, database: str, table: str) -> dict[str, str]:
    """The SerDe parameters the metastore holds for a table, exactly (not DESCRIBE's rendering)."""
    jvm = spark._jvm
    properties = (
        spark._jsparkSession.sharedState()
        .externalCatalog()
        .getTable(database, table)
        .storage()
        .properties()
    )
    return dict(jvm.scala.collection.JavaConverters.mapAsJavaMapConverter(properties).asJava())


def describe_formatted(spark: Any, database: str, table: str) -> dict[str, str]:
    """DESCRIBE FORMATTED as {label: value}, the column rows included ({name: type})."""
    rows = spark.sql(f"DESCRIBE FORMATTED {database}.`{table}`").collect()
    out: dict[str, str] = {}
    for row in rows:
        key = (row[0] or "").strip()
        if key and key not in out:
            out[key] = row[1] if row[1] is not None else ""
    return out


def hive_ddl(
    database: str,
    table: str,
    columns: Sequence[tuple[str, str]],
    serde: str,
    parameters: dict[str, str],
    folder: Path,
) -> str:
    """A DROP + CREATE EXTERNAL TABLE over `folder` with any serde and SerDe parameters (no header
    line), its literals written as the product writes them (`rendering.string_literal`)."""
    lit = lambda value: string_literal(value, "hive")  # noqa: E731
    cols = ", ".join(f"`{name}` {hive_type}" for name, hive_type in columns)
    props = ", ".join(f"{lit(k)} = {lit(v)}" for k, v in parameters.items())
    return (
        f"DROP TABLE IF EXISTS {database}.`{table}`;\n"
        f"CREATE EXTERNAL TABLE {database}.`{table}` ({cols})\n"
        f"ROW FORMAT SERDE {lit(serde)}\n"
        + (f"WITH SERDEPROPERTIES ({props})\n" if parameters else "")
        + "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION {lit(location(folder))};"
    )


def hive_rows(spark: Any, database: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table in file order (one file per table and local[1])."""
    return [tuple(r) for r in spark.sql(f"SELECT * FROM {database}.`{table}`").collect()]


def hive_rows_by_file(spark: Any, database: str, table: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every file of a table, in file order, keyed by file name: one query for all."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    query = f"SELECT *, input_file_name() AS `__file` FROM {database}.`{table}`"
    for row in spark.sql(query).collect():
        values = tuple(row)
        out.setdefault(values[-1].rsplit("/", 1)[-1], []).append(values[:-1])
    return out


def comparable(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows with values made exactly comparable: a float by its repr (NaN equals NaN, -0.0 is not
    0.0), a Decimal by its text (the scale counts), anything else with its type."""

    def value(v: Any) -> Any:
        if isinstance(v, float):
            return ("double", "nan" if math.isnan(v) else repr(v))
        if isinstance(v, Decimal):
            return ("decimal", str(v))
        return v if v is None else (type(v).__name__, v)

    return [tuple(value(v) for v in row) for row in rows]


def row_diff(hive: list[tuple[Any, ...]], local: list[tuple[Any, ...]]) -> list[tuple[list, list]]:
    """The rows that differ, as (Hive's rows, the local rows) per difflib block over whole rows."""
    matcher = difflib.SequenceMatcher(a=hive, b=local, autojunk=False)
    return [
        (hive[i1:i2], local[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]
