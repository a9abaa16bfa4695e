"""The SQL engine interface: create the database and tables, export genre film tables.

Local runs use DuckDB (`duckdb_engine`); AWS runs use Hive and Presto on EMR. Both execute the
scripts rendered by `genre_assets.rendering`, and both report what they did as `GenreExport`s and
metadata dictionaries that assets attach to their materialisations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from genre_assets.domain.schema import TableSpec
from genre_assets.domain.targets import GenreTarget


@dataclass(frozen=True)
class GenreExport:
    """One genre's TSV export as written to the lake."""

    genre: str
    key: str
    uri: str
    row_count: int
    size_bytes: int
    # The header and first rows of the file as written, for the UI's preview: the engine has
    # the bytes at hand, so the asset need not fetch the object again.
    head: bytes = b""
    # Optional, for genre_film_table's checks, which then need not read the file back: the whole
    # file as written, when the engine has it at hand, and the object's version as written (what
    # `LakeResource.list_objects` reports as `LakeObject.version`: mtime-size locally, the ETag on
    # S3). An engine that leaves either out only makes the checks read the file, as before.
    data: bytes | None = None
    version: str = ""


def head_lines(data: bytes, rows: int) -> bytes:
    """The header and the first `rows` lines of an export, each with its newline."""
    end = -1
    for _ in range(rows + 1):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return data
    return data[: end + 1]


class EngineResource(dg.ConfigurableResource, ABC):
    """Runs the pipeline's SQL on some engine."""

    @property
    @abstractmethod
    def engine_name(self) -> str:
        """A short label for metadata and logs, e.g. `duckdb 2.0.0` or `emr-7.5.0`."""

    @abstractmethod
    def create_database(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        """Ensure the film database exists; return metadata describing what was done."""

    @abstractmethod
    def create_source_table(self, log: dg.DagsterLogManager, table: TableSpec) -> Mapping[str, Any]:
        """(Re)define a source table over its lake folder; return metadata (row count if cheap)."""

    @abstractmethod
    def build_columnar_cache(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        """Convert the source tables to a columnar cache keyed to the raw files' versions, or
        reuse it when the raw files have not changed; return metadata (row counts, reuse)."""

    @abstractmethod
    def export_genres(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> list[GenreExport]:
        """Compute every target genre in one pass over the ratings and write their TSVs."""

    @abstractmethod
    def create_genre_tables(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> Mapping[str, Any]:
        """(Re)define each target's catalog table over its export folder."""

    def cost_metadata(self) -> Mapping[str, Any]:
        """What the run's compute has cost so far (EMR); nothing for engines that are free."""
        return {}
