"""The Glue Data Catalog as the catalog resource (read side; Hive on EMR writes to it)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from genre_assets.domain.schema import TableSpec
from genre_assets.rendering import validate_identifier
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.resources.aws.glue_tables import TableShape, matches
from genre_assets.resources.catalog import CatalogResource, TableInfo


def is_not_found(error: ClientError) -> bool:
    """Glue's answer for a database or table that does not exist."""
    return error.response.get("Error", {}).get("Code") == "EntityNotFoundException"


class GlueCatalogResource(CatalogResource):
    aws: AwsClientsResource

    def _glue(self) -> Any:
        return self.aws.client("glue")

    def database_exists(self) -> bool:
        try:
            self._glue().get_database(Name=self.database_name())
        except ClientError as error:
            if is_not_found(error):
                return False
            raise
        return True

    def glue_table(self, name: str) -> dict[str, Any] | None:
        """The raw Glue table (None when it or the database is missing)."""
        try:
            return self._glue().get_table(
                DatabaseName=self.database_name(), Name=validate_identifier(name, "table name")
            )["Table"]
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def not_as_defined(self, tables: list[tuple[TableSpec, str]]) -> list[tuple[TableSpec, str]]:
        """The (spec, location) pairs whose Glue table is missing or defined otherwise: the
        ones DDL must (re)create."""
        return [
            (spec, location)
            for spec, location in tables
            if not matches(self.glue_table(spec.name), TableShape.of_spec(spec, location))
        ]

    def get_table(self, name: str) -> TableInfo | None:
        table = self.glue_table(name)
        if table is None:
            return None
        location = table.get("StorageDescriptor", {}).get("Location", "")
        return TableInfo(database=self.database_name(), name=name, location=location)

    def list_tables(self) -> list[str]:
        if not self.database_exists():
            return []
        paginator = self._glue().get_paginator("get_tables")
        names: list[str] = []
        for page in paginator.paginate(DatabaseName=self.database_name()):
            names.extend(t["Name"] for t in page["TableList"])
        return sorted(names)
