"""The local catalog: a DuckDB file whose schemas are databases and whose views are tables.

Views read the lake's files directly, so the catalog holds definitions only, like Glue.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from pydantic import Field

from genre_assets.rendering import render, validate_identifier
from genre_assets.resources.catalog import CatalogResource, TableInfo
from genre_assets.resources.local.lake import LocalLakeResource


class LocalCatalogResource(CatalogResource):
    """A DuckDB database file: schemas are databases, views over lake files are tables."""

    lake: LocalLakeResource
    path: str = Field(
        default="",
        description="The DuckDB file that holds the catalog; default <lake>/_catalog.duckdb",
    )
    lock_timeout_seconds: float = Field(
        default=30.0,
        description="How long to wait for another process (a run, the UI) to release the file",
    )

    def file(self) -> Path:
        if self.path:
            return Path(self.path).expanduser().resolve()
        # Beside the data it describes; the leading "_" keeps Hive-style readers away from it.
        return Path(self.lake.root_uri) / "_catalog.duckdb"

    @contextmanager
    def connect(
        self, *, read_only: bool = False, config: dict[str, Any] | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the catalog file, waiting while another process holds its lock."""
        file = self.file()
        if read_only and not file.exists():
            # Nothing was ever created: an empty in-memory catalog answers every question.
            connection = duckdb.connect(":memory:", config=config or {})
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            connection = self._connect_waiting(file, read_only, config or {})
        try:
            yield connection
        finally:
            connection.close()

    def _connect_waiting(
        self, file: Path, read_only: bool, config: dict[str, Any]
    ) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_seconds
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(file), read_only=read_only, config=config)
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def database_exists(self) -> bool:
        with self.connect(read_only=True) as con:
            row = con.execute(
                render("duckdb/catalog/database_exists.sql.j2"), [self.database_name()]
            ).fetchone()
        return bool(row and row[0])

    def get_table(self, name: str) -> TableInfo | None:
        with self.connect(read_only=True) as con:
            row = con.execute(
                render("duckdb/catalog/get_table.sql.j2"),
                [self.database_name(), validate_identifier(name, "table name")],
            ).fetchone()
        if row is None:
            return None
        return TableInfo(database=self.database_name(), name=name, location=row[0] or "")

    def list_tables(self) -> list[str]:
        with self.connect(read_only=True) as con:
            rows = con.execute(
                render("duckdb/catalog/list_tables.sql.j2"), [self.database_name()]
            ).fetchall()
        return [r[0] for r in rows]
