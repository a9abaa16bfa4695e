"""The `presto-cli` of the emulated EMR master: Presto over Glue and S3, played by DuckDB.

`presto-cli --catalog hive --schema DB --output-format TSV --file F` (or `--execute SQL`) looks up
every table the query reads in the (emulated) Glue catalog, downloads the files under each
table's S3 Location, defines DuckDB views with the template the local engine uses
(`rendering.duckdb_create_view`), transpiles the query with `rendering.presto_to_duckdb` and prints
the result as presto-cli's TsvPrinter does. So the AWS deployment's exports are byte-for-byte the
local deployment's. A failing query prints `Query <id> failed: <reason>` on stderr and exits 1.

One DDL statement is emulated, the EMR columnar cache's `CREATE TABLE ... WITH (format = 'PARQUET',
external_location = ...) AS SELECT`: the rows are written as a Parquet file at the location and
the table is registered in Glue as Presto registers it; Parquet tables are then read like any other.

It reaches AWS through boto3's environment (AWS_ENDPOINT_URL, credentials, region): the shell
step's environment points it at the emulator.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import duckdb
import sqlglot
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlglot import exp

from genre_assets import rendering
from genre_assets.errors import InputError
from genre_assets.rendering import presto_to_duckdb, validate_identifier
from genre_assets.resources.aws.glue_catalog import is_not_found
from genre_assets.resources.aws.glue_tables import PARQUET_SERDE, TableShape
from genre_assets.resources.local.duckdb_engine import describe_duckdb_error
from genre_assets_emulator.tables import UnreadableTable, table_input, table_spec
from genre_assets_emulator.tsv_printer import format_row

USER_AGENT = "genre-assets-emulator/presto-cli"
OUTPUT_FORMATS = ("TSV", "TSV_HEADER")


class QueryError(Exception):
    """The query failed; the message is what presto-cli would print after `failed:`."""


def referenced_tables(sql: str, catalog: str, schema: str | None) -> list[tuple[str, str]]:
    """(database, table) of every catalog table the statements read, CTE names excluded."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="presto") if s is not None]
    except sqlglot.errors.SqlglotError as error:  # ParseError, or TokenError (e.g. an open quote)
        first = (getattr(error, "errors", None) or [{}])[0]
        where = f"line {first['line']}:{first['col']}: " if "line" in first else ""
        raise QueryError(f"{where}{first.get('description') or error}") from None
    found: list[tuple[str, str]] = []
    for statement in statements:
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if not name or (not table.db and name in ctes):
                continue
            if table.catalog and table.catalog.lower() != catalog:
                raise QueryError(f"Catalog '{table.catalog}' does not exist")
            database = (table.db or schema or "").lower()
            if not database:
                raise QueryError("Schema must be specified when session schema is not set")
            if (database, name) not in found:
                found.append((database, name))
    return found


def download_table_files(s3: Any, location: str, folder: Path) -> None:
    """Every data file directly under `location`, as Presto's Hive connector lists them."""
    if not location.startswith("s3://"):
        raise QueryError(f"table location {location!r} is not in S3")
    bucket, _, prefix = location[len("s3://") :].partition("/")
    prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            # Hive and Presto skip hidden files (leading '_' or '.'), e.g. _SUCCESS.
            if name and not name.startswith(("_", ".")):
                s3.download_file(bucket, item["Key"], str(folder / name))
                count += 1
    if count == 0:
        # An empty location is an empty table for Presto; DuckDB needs a file to read.
        (folder / "empty").write_bytes(b"")


def run_query(
    sql: str,
    *,
    catalog: str,
    schema: str | None,
    output_format: str,
    glue: Any,
    s3: Any,
    workdir: Path,
) -> str:
    """The query's output as presto-cli prints it; raises QueryError when it fails."""
    try:
        validate_identifier(catalog, "catalog")
        if schema:
            validate_identifier(schema, "schema")
    except InputError as error:
        raise QueryError(str(error)) from None
    ctas = _ctas(sql)
    tables = referenced_tables(
        ctas.expression.sql(dialect="presto") if ctas else sql, catalog, schema
    )
    con = duckdb.connect(":memory:")
    folders: dict[str, str] = {}
    try:
        # A catalog named like Presto's makes hive.db.table, db.table and table all resolve.
        con.execute(f"ATTACH ':memory:' AS {catalog}; USE {catalog}")
        for database, name in tables:
            glue_table = _glue_table(glue, catalog, database, name)
            location = glue_table.get("StorageDescriptor", {}).get("Location", "")
            folder = workdir / database / name
            download_table_files(s3, location, folder)
            folders[f"{folder}/"] = location.rstrip("/") + "/"
            try:
                spec = table_spec(glue_table)
            except UnreadableTable as error:
                raise QueryError(str(error)) from None
            con.execute(rendering.duckdb_create_schema(database))
            con.execute(rendering.duckdb_create_view(database, spec, f"{folder}/*", location))
        if schema:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}; USE {catalog}.{schema}")
        if ctas:
            return _create_table_as(con, ctas, catalog, schema, glue, s3, workdir)
        return _execute(con, presto_to_duckdb(sql), output_format)
    except duckdb.Error as error:
        raise QueryError(_describe(error, folders)) from None
    except sqlglot.errors.SqlglotError as error:
        raise QueryError(f"the query could not be transpiled: {error}") from None
    finally:
        con.close()


def _ctas(sql: str) -> exp.Create | None:
    """The statement when `sql` is one CREATE TABLE ... AS SELECT (the only DDL emulated)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="presto") if s is not None]
    except sqlglot.errors.SqlglotError:
        return None  # referenced_tables reports the syntax error with its position
    creates = [s for s in statements if isinstance(s, exp.Create)]
    if not creates:
        return None
    if len(statements) != 1 or not isinstance(creates[0].expression, exp.Query):
        raise QueryError("only a single CREATE TABLE ... AS SELECT statement is emulated")
    return creates[0]


# DuckDB result types -> the Hive types Presto records in the metastore.
_HIVE_TYPES = {"BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "VARCHAR": "string"}


def _create_table_as(
    con: duckdb.DuckDBPyConnection,
    statement: exp.Create,
    catalog: str,
    schema: str | None,
    glue: Any,
    s3: Any,
    workdir: Path,
) -> str:
    """Presto's CTAS with format = 'PARQUET' and an external_location: the query's rows are
    written as one Parquet file there and the table is registered in Glue as Presto would."""
    target = statement.this
    database = (target.db or schema or "").lower()
    name = target.name.lower()
    options: dict[str, str] = {}
    for prop in (statement.args.get("properties") or exp.Properties()).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            options["format"] = prop.this.name
        elif type(prop) is exp.Property:
            options[prop.name.lower()] = prop.args["value"].name
    if options.get("format", "").upper() != "PARQUET" or "external_location" not in options:
        raise QueryError(
            "the emulator runs CREATE TABLE AS only WITH (format = 'PARQUET', external_location = ...)"
        )
    location = options["external_location"]
    if _exists(glue, database, name):
        raise QueryError(f"line 1:1: Table '{catalog}.{database}.{name}' already exists")
    bucket, _, prefix = (
        location[len("s3://") :].partition("/") if location.startswith("s3://") else ("", "", "")
    )
    if not bucket:
        raise QueryError(f"External location must be in S3: {location}")
    prefix = prefix.rstrip("/") + "/"
    if s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0):
        raise QueryError(
            f"Target directory for table '{database}.{name}' already exists: {location}"
        )
    select = presto_to_duckdb(statement.expression.sql(dialect="presto"))
    columns = []
    for column_name, duckdb_type, *_ in con.execute(f"DESCRIBE {select}").fetchall():
        if duckdb_type not in _HIVE_TYPES:
            raise QueryError(f"column {column_name}: type {duckdb_type} is not emulated for CTAS")
        columns.append((column_name, _HIVE_TYPES[duckdb_type]))
    local = workdir / "ctas.parquet"
    rows = con.execute(f"COPY ({select}) TO '{local}' (FORMAT parquet)").fetchall()[0][0]
    s3.upload_file(str(local), bucket, f"{prefix}{_query_id()}_{uuid.uuid4().hex[:8]}")
    shape = TableShape(
        location=location, columns=tuple(columns), serde=PARQUET_SERDE, skip_header=False
    )
    glue.create_table(DatabaseName=database, TableInput=table_input(name, shape))
    return f"{rows}\n"


def _exists(glue: Any, database: str, name: str) -> bool:
    try:
        glue.get_table(DatabaseName=database, Name=name)
    except ClientError as error:
        if is_not_found(error):
            return False
        raise
    return True


def _glue_table(glue: Any, catalog: str, database: str, name: str) -> dict[str, Any]:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except ClientError as error:
        if is_not_found(error):
            raise QueryError(f"Table {catalog}.{database}.{name} does not exist") from None
        raise


def _execute(con: duckdb.DuckDBPyConnection, sql: str, output_format: str) -> str:
    out = []
    # presto-cli --file runs the statements in order and prints each one's rows.
    for statement in con.extract_statements(sql):
        con.execute(statement)
        if con.description is None:
            continue
        if output_format == "TSV_HEADER":
            out.append(format_row([d[0] for d in con.description]))
        out.extend(format_row(row) for row in con.fetchall())
    return "".join(out)


def _describe(error: duckdb.Error, folders: dict[str, str]) -> str:
    """The engine's short description, naming the S3 object rather than its temporary copy."""
    text = describe_duckdb_error(error)
    for local, remote in folders.items():
        text = text.replace(local, remote)
    return text


def _query_id() -> str:
    return time.strftime("%Y%m%d_%H%M%S", time.gmtime()) + f"_00000_{uuid.uuid4().hex[:5]}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presto-cli", description="genre-assets' emulated presto-cli"
    )
    parser.add_argument("--server", help="ignored: the emulated Presto runs in this process")
    parser.add_argument("--user", help="ignored")
    parser.add_argument("--catalog", default="hive")
    parser.add_argument("--schema")
    parser.add_argument("--output-format", default="CSV")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--file", help="a file of SQL statements")
    which.add_argument("--execute", help="SQL statements")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.output_format.upper() not in OUTPUT_FORMATS:
        print(
            f"presto-cli (emulated): --output-format {args.output_format} is not emulated; "
            f"use one of {', '.join(OUTPUT_FORMATS)}",
            file=sys.stderr,
        )
        return 2
    sql = Path(args.file).read_text(encoding="utf-8") if args.file else args.execute
    session = boto3.session.Session()
    # The master always has a region; a bare `--execute` without tables must not need one.
    session = boto3.session.Session(region_name=session.region_name or "us-east-1")
    config = Config(user_agent_extra=USER_AGENT, retries={"max_attempts": 3, "mode": "standard"})
    glue, s3 = session.client("glue", config=config), session.client("s3", config=config)
    with tempfile.TemporaryDirectory(prefix="presto-cli-") as workdir:
        try:
            text = run_query(
                sql,
                catalog=args.catalog.lower(),
                schema=args.schema.lower() if args.schema else None,
                output_format=args.output_format.upper(),
                glue=glue,
                s3=s3,
                workdir=Path(workdir),
            )
        except QueryError as error:
            print(f"Query {_query_id()} failed: {error}", file=sys.stderr)
            return 1
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
