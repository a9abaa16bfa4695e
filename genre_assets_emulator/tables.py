"""Glue tables as the emulated Hive writes them.

`table_input` is the Glue TableInput that Hive's CREATE EXTERNAL TABLE records for a table shape;
the emulated presto-cli reads tables back from what it recorded (`hive_serde`).
"""

from __future__ import annotations

from typing import Any

from genre_assets.domain.schema import STORAGE, StorageFormat
from genre_assets.resources.aws.glue_tables import TableShape


def table_input(name: str, shape: TableShape, description: str = "") -> dict[str, Any]:
    """The Glue TableInput that Hive's CREATE EXTERNAL TABLE produces for `shape` (text input and
    output formats unless the serde is one of ours with others; the DDL's own win in `hive`)."""
    storage = next(
        (s for s in STORAGE.values() if s.serde == shape.serde),
        STORAGE[StorageFormat.DELIMITED_CSV],
    )
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
            "InputFormat": storage.input_format,
            "OutputFormat": storage.output_format,
            "SerdeInfo": {
                "SerializationLibrary": shape.serde,
                "Parameters": dict(shape.serde_parameters),
            },
        },
    }
