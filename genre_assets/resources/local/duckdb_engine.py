"""The local engine: DuckDB runs the transpiled Presto query over the lake folder's files.

It plays the part EMR plays on AWS: its DDL comes from the same table specs as the Hive DDL, its
genre query is the Presto template run through sqlglot, and its TSVs are byte-for-byte what the
EMR export script writes from presto-cli's TSV output. The query reads the ratings' per-file
aggregates (rating_aggregates.py) when every current ratings file has one, else the CSVs.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from genre_assets import rendering
from genre_assets.domain.schema import MOVIES, RATINGS, SOURCE_TABLES, TableSpec
from genre_assets.domain.targets import GenreTarget
from genre_assets.domain.tsv import PREVIEW_ROWS
from genre_assets.errors import EngineError
from genre_assets.rendering import render
from genre_assets.resources.engine import EngineResource, GenreExport, head_lines
from genre_assets.resources.lake import LakeObject
from genre_assets.resources.local import columnar_cache, rating_aggregates
from genre_assets.resources.local.catalog import LocalCatalogResource
from genre_assets.resources.local.lake import LocalLakeResource
from genre_assets.resources.raw_files import locate_fraction, source_files
from genre_assets.settings import SETTINGS

# Source tables kept whole as Parquet; ratings are kept as per-file aggregates instead.
PARQUET_CACHED: tuple[TableSpec, ...] = (MOVIES,)


class DuckDBEngineResource(EngineResource):
    """DuckDB over a local lake folder, with a DuckDB file as the catalog."""

    lake: LocalLakeResource
    catalog: LocalCatalogResource
    threads: int = Field(
        default=SETTINGS["duckdb_threads"].default_int,
        description="DuckDB worker threads; 0 means one per core",
    )
    memory_limit: str = Field(
        default=SETTINGS["duckdb_memory"].default,
        description="DuckDB memory limit; larger intermediates spill to disk",
    )

    @property
    def engine_name(self) -> str:
        return f"duckdb {duckdb.__version__}"

    def _config(self) -> dict[str, Any]:
        config = {"memory_limit": self.memory_limit}
        if self.threads > 0:
            config["threads"] = str(self.threads)
        return config

    def _execute_ddl(self, sql: str) -> None:
        with self.catalog.connect() as con:
            try:
                con.begin()
                con.execute(sql)
                con.commit()
            except duckdb.Error as error:
                con.rollback()
                raise EngineError(
                    f"the local catalog rejected a statement: {describe_duckdb_error(error)}"
                ) from error

    def create_database(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        database = self.catalog.database_name()
        self._execute_ddl(rendering.duckdb_create_schema(database))
        log.info(f"Database {database} is present in the local catalog {self.catalog.file()}")
        return {"catalog": str(self.catalog.file())}

    def create_source_table(self, log: dg.DagsterLogManager, table: TableSpec) -> Mapping[str, Any]:
        database = self.catalog.database_name()
        location = self.lake.uri(table.folder)
        self._execute_ddl(
            rendering.duckdb_create_view(
                database, table, f"{location}*{table.file_suffix}", location
            )
        )
        log.info(f"{database}.{table.name} reads {location}*{table.file_suffix}")
        # Counting ratings.csv would cost a full scan; its per-file aggregates count it for free.
        if table.name == RATINGS.name:
            with self._memory_connection() as con:
                if not self._define_aggregates_view(con):
                    return {}
                rows = self._count_aggregated_ratings(con)
            return {"row_count": rows}
        with self._memory_connection() as con:
            # This table's view only: a missing ratings folder is the ratings step's failure.
            self._define_source_views(con, log=None, tables=(table,))
            try:
                row_count = con.execute(
                    render("duckdb/count_rows.sql.j2", database=database, table=table.name)
                ).fetchall()[0][0]
            except duckdb.Error as error:
                raise EngineError(
                    f"reading {location} as the {table.name} table failed: "
                    f"{describe_duckdb_error(error)}"
                ) from error
        return {"row_count": int(row_count)}

    def build_columnar_cache(self, log: dg.DagsterLogManager) -> Mapping[str, Any]:
        metadata: dict[str, Any] = {}
        for table in PARQUET_CACHED:
            files = source_files(self.lake, table)
            path = columnar_cache.entry_path(self.lake, table, files)
            started = time.perf_counter()
            reused = path.exists()
            if not reused:
                self._write_cache_entry(table, path)
            for stale in columnar_cache.stale_entries(path):
                stale.unlink(missing_ok=True)
            with self._memory_connection() as con:
                rows = con.execute(
                    render("duckdb/count_parquet_rows.sql.j2", path=str(path))
                ).fetchall()[0][0]
            seconds = time.perf_counter() - started
            verb = "Reused" if reused else "Wrote"
            log.info(
                f"{verb} the columnar cache of {table.name}: {rows} rows in {path} ({seconds:.2f} s)"
            )
            metadata[f"{table.name}_row_count"] = int(rows)
            metadata[f"{table.name}_cache"] = dg.MetadataValue.path(str(path))
            metadata[f"{table.name}_cache_reused"] = reused
            metadata[f"{table.name}_cache_seconds"] = round(seconds, 3)
        metadata.update(self._build_rating_aggregates(log))
        return metadata

    def _build_rating_aggregates(self, log: dg.DagsterLogManager) -> dict[str, Any]:
        """One aggregate entry per ratings file: the new or changed files are read, alone; the
        others' entries are reused; the entries of removed or changed files are dropped."""
        started = time.perf_counter()
        files = source_files(self.lake, RATINGS)
        written = 0
        current = set()
        for obj in files:
            path = rating_aggregates.entry_path(self.lake, obj)
            current.add(path)
            if not path.exists():
                self._write_rating_aggregate(obj, path)
                written += 1
        dropped = rating_aggregates.stale_entries(self.lake, current)
        for stale in dropped:
            stale.unlink(missing_ok=True)
        # Ratings cached whole as Parquet, as before per-file aggregates: never read again.
        for old in self.lake.local_path(f"{columnar_cache.CACHE_FOLDER}/{RATINGS.name}").glob(
            "*.parquet"
        ):
            old.unlink(missing_ok=True)
        with self._memory_connection() as con:
            self._define_aggregates_view(con)
            rows = self._count_aggregated_ratings(con)
        seconds = time.perf_counter() - started
        log.info(
            f"Rating aggregates: {written} file(s) aggregated, {len(files) - written} reused, "
            f"{len(dropped)} dropped; {rows} ratings ({seconds:.2f} s)"
        )
        return {
            "ratings_row_count": int(rows),
            "ratings_files": len(files),
            "ratings_files_aggregated": written,
            "ratings_files_reused": len(files) - written,
            "ratings_aggregates_dropped": len(dropped),
            "ratings_aggregates": dg.MetadataValue.path(
                str(self.lake.local_path(rating_aggregates.FOLDER))
            ),
            "ratings_aggregates_seconds": round(seconds, 3),
        }

    def _write_rating_aggregate(self, obj: LakeObject, path: Path) -> None:
        database = self.catalog.database_name()
        location = self.lake.uri(RATINGS.folder)

        def views(con: duckdb.DuckDBPyConnection) -> None:
            # This one file as the ratings table: only it is read.
            con.execute(
                "\n".join(
                    [
                        rendering.duckdb_create_schema(database),
                        rendering.duckdb_create_view(
                            database, RATINGS, str(self.lake.local_path(obj.key)), location
                        ),
                    ]
                )
            )

        self._write_entry(
            path,
            views,
            "duckdb/write_rating_aggregate.sql.j2",
            RATINGS,
            f"aggregating {self.lake.uri(obj.key)} failed",
        )

    def _count_aggregated_ratings(self, con: duckdb.DuckDBPyConnection) -> int:
        """All rows of the ratings files, from the per-file aggregates' counts (no scan)."""
        sql = render(
            "duckdb/count_aggregated_ratings.sql.j2",
            database=self.catalog.database_name(),
            view=rating_aggregates.VIEW,
        )
        return int(con.execute(sql).fetchall()[0][0])

    def _define_aggregates_view(self, con: duckdb.DuckDBPyConnection) -> bool:
        """`<database>.rating_aggregates` over the entries of the current ratings files; False
        (and no view) when some file has none yet: then the ratings themselves must be read."""
        files = [
            o for o in self.lake.list_objects(RATINGS.folder) if o.key.endswith(RATINGS.file_suffix)
        ]
        paths = [rating_aggregates.entry_path(self.lake, o) for o in files]
        if not paths or not all(p.exists() for p in paths):
            return False
        database = self.catalog.database_name()
        con.execute(
            "\n".join(
                [
                    rendering.duckdb_create_schema(database),
                    render(
                        "duckdb/create_aggregates_view.sql.j2",
                        database=database,
                        view=rating_aggregates.VIEW,
                        paths=[str(p) for p in paths],
                    ),
                ]
            )
        )
        return True

    def validate_sources(self) -> dict[str, Any]:
        """Counts of ratings the genre query leaves out: out of range, or of unknown movies."""
        database = self.catalog.database_name()
        with self._memory_connection() as con:
            self._define_source_views(con, log=None, tables=(MOVIES,))
            if self._define_aggregates_view(con):
                sql = render(
                    "duckdb/validate_aggregates.sql.j2",
                    database=database,
                    view=rating_aggregates.VIEW,
                )
            else:
                self._define_source_views(con, log=None, tables=(RATINGS,))
                sql = render("duckdb/validate_sources.sql.j2", database=database)
            try:
                out_of_range, unknown, examples, total = con.execute(sql).fetchall()[0]
            except duckdb.Error as error:
                raise EngineError(
                    f"validating the source tables failed: {describe_duckdb_error(error)}"
                ) from error
        return {
            "out_of_range": int(out_of_range),
            "unknown_movie": int(unknown),
            "unknown_movie_examples": list(examples or []),
            "ratings": int(total),
        }

    def _write_cache_entry(self, table: TableSpec, path: Path) -> None:
        self._write_entry(
            path,
            lambda con: self._define_source_views(con, log=None, use_cache=False),
            "duckdb/write_parquet_cache.sql.j2",
            table,
            f"converting {table.name} to Parquet failed",
        )

    def _write_entry(
        self,
        path: Path,
        views: Callable[[duckdb.DuckDBPyConnection], None],
        template: str,
        table: TableSpec,
        failure: str,
    ) -> None:
        """Write one Parquet entry of the cache with `template` (a COPY over `table`, defined by
        `views`). Written under a hidden name of its own and renamed: a crash never leaves a
        truncated entry, and two runs building the same entry at once never write the same file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
        database = self.catalog.database_name()
        with self._memory_connection() as con:
            views(con)
            try:
                con.execute(render(template, database=database, table=table, path=str(partial)))
            except duckdb.Error as error:
                partial.unlink(missing_ok=True)
                reason = self._locate_fraction(table, error) or describe_duckdb_error(error)
                raise EngineError(f"{failure}: {reason}") from error
        os.replace(partial, path)

    def _locate_fraction(self, table: TableSpec, error: duckdb.Error) -> str | None:
        """File and line of the value behind a "not a whole number" error, if it is one."""
        match = re.search(re.escape(rendering.NOT_WHOLE_MARKER) + r" (\w+):", str(error))
        if match is None:
            return None
        for obj in source_files(self.lake, table):
            found = locate_fraction(
                self.lake.local_path(obj.key), self.lake.uri(obj.key), table, match.group(1)
            )
            if found:
                return found
        return None

    def _fresh_cache(self, table: TableSpec):
        if table not in PARQUET_CACHED:
            return None
        files = [
            o for o in self.lake.list_objects(table.folder) if o.key.endswith(table.file_suffix)
        ]
        path = columnar_cache.entry_path(self.lake, table, files) if files else None
        return path if path is not None and path.exists() else None

    def _memory_connection(self) -> duckdb.DuckDBPyConnection:
        # Queries run in memory, not in the catalog file: no lock is held while they run, and
        # row order is free because every result is ordered explicitly.
        config = {**self._config(), "preserve_insertion_order": "false"}
        return duckdb.connect(":memory:", config=config)

    def _define_source_views(
        self,
        con: duckdb.DuckDBPyConnection,
        log: dg.DagsterLogManager | None,
        use_cache: bool = True,
        tables: Sequence[TableSpec] = SOURCE_TABLES,
    ) -> None:
        """`<database>.movies` and `.ratings` (or just `tables`) in `con`: from the columnar cache
        when it matches the raw files, else straight from the CSVs (same columns, same answers)."""
        database = self.catalog.database_name()
        statements = [rendering.duckdb_create_schema(database)]
        for table in tables:
            cached = self._fresh_cache(table) if use_cache else None
            location = self.lake.uri(table.folder)
            if cached is not None:
                statements.append(
                    rendering.duckdb_create_parquet_view(database, table, str(cached))
                )
            else:
                statements.append(
                    rendering.duckdb_create_view(
                        database, table, f"{location}*{table.file_suffix}", location
                    )
                )
            if log is not None:
                source = f"columnar cache {cached}" if cached else f"CSV files in {location}"
                log.info(f"The genre query reads {table.name} from the {source}")
        con.execute("\n".join(statements))

    def export_genres(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> list[GenreExport]:
        database = self.catalog.database_name()
        started = time.perf_counter()
        with self._memory_connection() as con:
            if self._define_aggregates_view(con):
                self._define_source_views(con, log, tables=(MOVIES,))
                log.info("The genre query reads ratings from their per-file aggregates")
                sql = rendering.local_genre_export_sql(database, targets, rating_aggregates.VIEW)
            else:
                self._define_source_views(con, log)
                sql = rendering.local_genre_export_sql(database, targets)
            try:
                rows = con.execute(sql).fetchall()
            except duckdb.Error as error:
                raise EngineError(
                    f"the genre query failed: {describe_duckdb_error(error)}"
                ) from error
        log.info(
            f"Genre query for {len(targets)} genre(s) took {time.perf_counter() - started:.2f} s"
        )
        bodies = {slug: (count, lines) for slug, count, lines in rows}
        exports = []
        for target in targets:
            count, lines = bodies.get(target.slug, (0, None))
            text = rendering.TSV_HEADER + "\n" + (lines + "\n" if lines else "")
            data = text.encode("utf-8")
            self.lake.write_bytes(target.export_key, data)
            exports.append(
                GenreExport(
                    genre=target.name,
                    key=target.export_key,
                    uri=self.lake.uri(target.export_key),
                    row_count=int(count),
                    size_bytes=len(data),
                    head=head_lines(data, PREVIEW_ROWS),
                    data=data,
                    version=self.lake.object_version(target.export_key),
                )
            )
        # One line for all genres: each log line is an event the instance stores.
        log.info(
            f"Wrote {sum(e.row_count for e in exports)} films in {len(exports)} export(s) under "
            f"{self.lake.uri('movielens/')}: "
            + ", ".join(f"{e.genre} {e.row_count}" for e in exports)
        )
        return exports

    def create_genre_tables(
        self, log: dg.DagsterLogManager, targets: Sequence[GenreTarget]
    ) -> Mapping[str, Any]:
        database = self.catalog.database_name()
        statements = []
        for target in targets:
            location = self.lake.uri(target.export_folder)
            statements.append(
                rendering.duckdb_create_view(
                    database, target.table_spec(), f"{location}*.tsv", location
                )
            )
        self._execute_ddl("\n".join(statements))
        log.info(f"Defined {len(targets)} genre table(s) in {database}")
        return {"tables": [f"{database}.{t.table}" for t in targets]}


def describe_duckdb_error(error: duckdb.Error) -> str:
    """DuckDB's CSV errors run to thirty lines of tuning advice; keep the file, the line and the
    reason, which is what a person needs to fix the data."""
    text = str(error)
    reason = text.split("\n\n", 1)[0].replace("\n", "; ")
    file_line = next(
        (line.strip() for line in text.splitlines() if line.strip().startswith("file = ")), None
    )
    return f"{reason} ({file_line.replace('file = ', 'file ')})" if file_line else reason
