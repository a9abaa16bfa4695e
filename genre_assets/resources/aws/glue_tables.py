"""What a table looks like in the Glue Data Catalog once the Hive DDL has run.

Used to decide whether a Hive DDL step can be skipped: the table already exists with the same
definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genre_assets.domain.schema import TableSpec


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
        storage = spec.storage.storage
        columns = tuple((c.name, spec.stored_type(c).lower()) for c in spec.columns)
        return TableShape(
            location=location,
            columns=columns,
            serde=storage.serde,
            skip_header=storage.header_lines == 1,
            serde_parameters=storage.serde_parameters,
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
        # Parameters Hive adds on its own (serialization.format for a SERDE clause) do not
        # matter; a changed one of ours (e.g. escapeChar) must replace the table.
        and set(expected.serde_parameters) <= set(actual.serde_parameters)
    )
