"""Glue tables as Hive writes them and as the emulated Presto reads them.

`table_input` is the Glue TableInput that Hive's CREATE EXTERNAL TABLE (or a Presto CTAS) records;
`table_spec` maps a Glue table back to a TableSpec so the emulated Presto knows how to read it.

Presto's Hive connector reads a table through the SerDe recorded in the metastore; the emulator
maps that SerDe back to a `StorageFormat` through `glue_tables.SERDES` (the mapping the Hive DDL
was written from), so the DuckDB view is rendered by the very template the local engine uses.
"""

from __future__ import annotations

from typing import Any

from genre_assets.domain.schema import Column, StorageFormat, TableSpec
from genre_assets.resources.aws.glue_tables import (
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    PARQUET_SERDE,
    SERDES,
    TEXT_INPUT,
    TEXT_OUTPUT,
    TableShape,
)


class UnreadableTable(Exception):
    """The Glue table uses a storage format or type the emulated Presto cannot read."""


def storage_format(table: dict[str, Any]) -> StorageFormat:
    """The format whose SerDe and parameters the table records (parameters Hive adds are fine)."""
    descriptor = table.get("StorageDescriptor", {})
    serde_info = descriptor.get("SerdeInfo", {})
    library = serde_info.get("SerializationLibrary", "")
    parameters = serde_info.get("Parameters", {})
    for storage, (serde, expected) in SERDES.items():
        if library == serde and all(parameters.get(k) == v for k, v in expected.items()):
            return storage
    raise UnreadableTable(
        f"table {table.get('Name')!r}: SerDe {library!r} with {parameters} is not one the emulator "
        f"reads ({', '.join(s.value for s in SERDES)})"
    )


def table_spec(table: dict[str, Any]) -> TableSpec:
    """The TableSpec of a Glue table; its `folder` is unused here (the Location is the source)."""
    shape = TableShape.of_glue(table)
    storage = storage_format(table)
    if not shape.skip_header and storage is not StorageFormat.PARQUET:
        # The shared DuckDB template always skips one header line, as every genre-assets table does.
        raise UnreadableTable(
            f"table {table.get('Name')!r} does not skip a header line (skip.header.line.count=1)"
        )
    descriptor = table.get("StorageDescriptor", {})
    comments = {c["Name"]: c.get("Comment", "") for c in descriptor.get("Columns", [])}
    columns = []
    for name, hive_type in shape.columns:
        try:
            # Each logical type in schema.py is spelled as its Hive type in lower case.
            columns.append(Column(name, hive_type, comments.get(name, "")))
        except ValueError:
            raise UnreadableTable(
                f"table {table.get('Name')!r}: column {name} has type {hive_type}, which the "
                "emulator does not map to DuckDB"
            ) from None
    return TableSpec(
        name=table["Name"],
        folder="",
        storage=storage,
        columns=tuple(columns),
        file_suffix="",
        # Rendered into a `--` SQL comment by the template: keep it on one line.
        comment=" ".join(str(table.get("Description", "")).split()),
    )


def table_input(name: str, shape: TableShape, description: str = "") -> dict[str, Any]:
    """The Glue TableInput that Hive's CREATE EXTERNAL TABLE (or Presto's CTAS with an
    external_location) produces for `shape`."""
    parquet = shape.serde == PARQUET_SERDE
    parameters = {"EXTERNAL": "TRUE"}
    if shape.skip_header:
        parameters["skip.header.line.count"] = "1"
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in shape.columns],
            "Location": shape.location,
            "InputFormat": PARQUET_INPUT if parquet else TEXT_INPUT,
            "OutputFormat": PARQUET_OUTPUT if parquet else TEXT_OUTPUT,
            "SerdeInfo": {
                "SerializationLibrary": shape.serde,
                "Parameters": dict(shape.serde_parameters),
            },
        },
    }
