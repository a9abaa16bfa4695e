"""What a table looks like in the Glue Data Catalog once the Hive DDL has run.

Used to decide whether a Hive DDL step can be skipped: the table already exists with the same
definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genre_assets.domain.schema import StorageFormat, TableSpec

OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

# Storage format -> (SerDe, its parameters) as Hive records them for the DDL in sql/hive/.
SERDES: dict[StorageFormat, tuple[str, dict[str, str]]] = {
    StorageFormat.QUOTED_CSV: (
        OPEN_CSV_SERDE,
        {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
    ),
    StorageFormat.DELIMITED_CSV: (
        LAZY_SIMPLE_SERDE,
        {"field.delim": ",", "serialization.format": ",", "line.delim": "\n"},
    ),
    StorageFormat.ESCAPED_TSV: (
        LAZY_SIMPLE_SERDE,
        {
            "field.delim": "\t",
            "serialization.format": "\t",
            "escape.delim": "\\",
            "line.delim": "\n",
        },
    ),
    StorageFormat.PARQUET: (PARQUET_SERDE, {}),
}


@dataclass(frozen=True)
class TableShape:
    """The parts of a Glue table that decide how its data is read."""

    location: str
    columns: tuple[tuple[str, str], ...]  # (name, lower-case Hive type)
    serde: str
    skip_header: bool
    serde_parameters: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def of_spec(spec: TableSpec, location: str) -> TableShape:
        serde, parameters = SERDES[spec.storage]
        columns = tuple((c.name, c.hive_type.lower()) for c in spec.columns)
        return TableShape(
            location=location,
            columns=columns,
            serde=serde,
            # Every text table of genre-assets has a header line; Parquet has none.
            skip_header=spec.storage is not StorageFormat.PARQUET,
            serde_parameters=tuple(sorted(parameters.items())),
        )

    @staticmethod
    def of_glue(table: dict[str, Any]) -> TableShape:
        descriptor = table.get("StorageDescriptor", {})
        return TableShape(
            location=descriptor.get("Location", ""),
            columns=tuple((c["Name"], c["Type"].lower()) for c in descriptor.get("Columns", [])),
            serde=descriptor.get("SerdeInfo", {}).get("SerializationLibrary", ""),
            skip_header=table.get("Parameters", {}).get("skip.header.line.count") == "1",
            serde_parameters=tuple(
                sorted(descriptor.get("SerdeInfo", {}).get("Parameters", {}).items())
            ),
        )


def same_location(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def matches(glue_table: dict[str, Any] | None, expected: TableShape) -> bool:
    if glue_table is None:
        return False
    actual = TableShape.of_glue(glue_table)
    return (
        same_location(actual.location, expected.location)
        and actual.columns == expected.columns
        and actual.serde == expected.serde
        and actual.skip_header == expected.skip_header
    )
