"""Renders every script the pipeline runs, for EMR (Hive, Presto, shell) and for the local engine.

The Presto genre query is the single source of truth: `local_genre_export_sql` runs the same
rendered text through sqlglot, so every local run also exercises the SQL that EMR runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genre_assets import genres as genre_rules
from genre_assets.schema import GENRE_FILM_COLUMNS, RATINGS, TableSpec, genre_table_spec
from genre_assets.sql_text import presto_to_duckdb, render, validate_identifier

TSV_HEADER = "\t".join(column.name for column in GENRE_FILM_COLUMNS)


@dataclass(frozen=True)
class GenreTarget:
    """A requested genre with the names derived from it."""

    name: str

    @property
    def slug(self) -> str:
        return genre_rules.slug(self.name)

    @property
    def table(self) -> str:
        return genre_rules.table_name(self.name)

    @property
    def export_folder(self) -> str:
        return genre_rules.export_folder(self.name)

    @property
    def export_key(self) -> str:
        return genre_rules.export_key(self.name)

    def table_spec(self) -> TableSpec:
        return genre_table_spec(self.table, self.export_folder)


def genre_targets(names: Sequence[str]) -> list[GenreTarget]:
    """Validated targets for the requested genres (rejects bad strings and slug collisions)."""
    return [GenreTarget(name) for name in genre_rules.validate_genres(names)]


def hive_create_database(database: str) -> str:
    return render("hive/create_database.hql.j2", database=database)


def hive_create_table(database: str, table: TableSpec, location: str) -> str:
    return render("hive/create_table.hql.j2", database=database, table=table, location=location)


def presto_genre_query(
    database: str, targets: Sequence[GenreTarget], ratings_table: str = RATINGS.name
) -> str:
    """The genre query; `ratings_table` is the EMR columnar cache's table when it is used."""
    if not targets:
        raise ValueError("the genre query needs at least one genre")
    return render(
        "presto/genre_films.sql.j2", database=database, genres=targets, ratings_table=ratings_table
    )


def presto_create_columnar_cache(database: str, table: TableSpec, location: str) -> str:
    return render("presto/create_columnar_cache.sql.j2", database=database, table=table, location=location)


def emr_presto_statement_script(database: str, script_uri: str) -> str:
    """The shell step that runs one Presto SQL script (no output is kept)."""
    return render(
        "shell/run_presto_statement.sh.j2",
        database=validate_identifier(database, "database name"),
        script_uri=script_uri,
    )


def emr_export_script(
    database: str, query_uri: str, targets: Sequence[GenreTarget], export_uris: Sequence[str]
) -> str:
    """The shell step that runs the Presto query and uploads one TSV per genre."""
    return render(
        "shell/run_presto_query.sh.j2",
        database=validate_identifier(database, "database name"),
        query_uri=query_uri,
        header=TSV_HEADER,
        genres=[{"slug": t.slug, "uri": uri} for t, uri in zip(targets, export_uris, strict=True)],
    )


def duckdb_create_schema(database: str) -> str:
    return render("duckdb/create_schema.sql.j2", database=database)


# Starts the error a local view raises for a fractional value in an integer column.
NOT_WHOLE_MARKER = "not a whole number in column"


def duckdb_create_view(database: str, table: TableSpec, files_glob: str, location: str) -> str:
    # Plain delimited files hold typed integers that DuckDB's cast would round; quoted CSV is
    # read as text (the query casts) and the TSV exports are written by the pipeline itself.
    whole_number_columns = [
        c.name for c in table.columns
        if table.storage.value == "delimited_csv" and c.type == "bigint"
    ]
    return render(
        "duckdb/create_view.sql.j2",
        database=database,
        table=table,
        files_glob=files_glob,
        location=location,
        whole_number_columns=whole_number_columns,
        NOT_WHOLE_MARKER=NOT_WHOLE_MARKER,
    )


def duckdb_create_parquet_view(database: str, table: TableSpec, path: str) -> str:
    return render("duckdb/create_parquet_view.sql.j2", database=database, table=table, path=path)


def local_genre_export_sql(database: str, targets: Sequence[GenreTarget]) -> str:
    """The Presto genre query transpiled to DuckDB, wrapped to yield one TSV body per genre."""
    validate_identifier(database, "database name")
    return render(
        "duckdb/genre_export_lines.sql.j2",
        genre_query=presto_to_duckdb(presto_genre_query(database, targets)),
    )
