"""The table catalog interface (Glue on AWS, a DuckDB file locally).

The catalog answers "what exists": the database, the source tables, the genre tables and where
each table reads its data from. Engines create tables; sensors and checks read them here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from genre_assets.rendering import validate_identifier
from genre_assets.settings import SETTINGS


@dataclass(frozen=True)
class TableInfo:
    database: str
    name: str
    location: str


class CatalogResource(dg.ConfigurableResource, ABC):
    """Read access to the film database's metadata."""

    database: str = Field(
        default=SETTINGS["database"].default, description="Database that holds the tables"
    )

    def database_name(self) -> str:
        return validate_identifier(self.database, "database name")

    @abstractmethod
    def database_exists(self) -> bool: ...

    @abstractmethod
    def get_table(self, name: str) -> TableInfo | None:
        """The table `name` in the film database, or None when it does not exist."""

    @abstractmethod
    def list_tables(self) -> list[str]: ...
