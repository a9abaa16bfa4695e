"""The `presto-cli` and `trino-cli` of the emulated EMR master: PrestoDB or Trino over Glue and
S3, played by DuckDB.

`presto-cli --catalog hive --schema DB --output-format TSV --file F` (or `--execute SQL`), and
`trino-cli` with the same flags, behave as the real consoles do where the pipeline depends on it
(sources in docs/aws-fidelity.md):

- the input is split into statements the way PrestoDB's `StatementSplitter` does: only statements
  ended by `;` (outside strings, quoted names and comments) run, `--execute` gets a `;` appended,
  and a non-empty unterminated rest prints `Non-terminated statement: ...` and exits 1;
- every table a statement reads is looked up in the (emulated) Glue catalog and its files under
  the table's S3 Location are read as Hive's serdes read them (`hive_serde`: line records,
  OpenCSVSerde, LazySimpleSerDe, NULL for values that do not parse), Parquet tables as Parquet;
- queries are transpiled with `rendering.presto_to_duckdb` and printed as `TsvPrinter` prints;
- the Hive connector's rules: PrestoDB refuses `CREATE TABLE ... WITH (external_location = ...)
  AS` ("External tables cannot be created using CREATE TABLE AS"); Trino accepts it only with
  `hive.non-managed-table-creates-enabled` (default true) and
  `hive.non-managed-table-writes-enabled` (default false), and the emulator then refuses it as not
  emulated; on both, `INSERT INTO` an external table needs
  `hive.non-managed-table-writes-enabled=true` in the cluster's `presto-connector-hive` or
  `trino-connector-hive` configuration (else "Cannot write to non-managed Hive table"), and
  writes a Parquet file under the table's Location;
- the Hive connector's hidden `"$path"` column (the file a row came from, `s3://bucket/key`) on
  text tables, and its split pruning: a top-level `"$path" = '...'` or `"$path" IN (...)`
  conjunct of a single-table query makes the connector list only the files it names
  (PrestoDB's and Trino's `InternalHiveSplitFactory.pathMatchesPredicate`, docs/aws-fidelity.md),
  so only those are fetched;
- every data file the engine fetches is appended to the reads log (READS_LOG_ENV, one JSON line
  per object: console, table, S3 URI, bytes), so a test can count the raw bytes a run read;
- a failing statement prints `Query <id> failed: <reason>` on stderr and exits 1;
- a console whose application the cluster lacks (trino-cli on a Presto cluster and the other way
  round) is not there: `<cli>: command not found`, exit 127, as bash answers.

It reaches AWS through boto3's environment (AWS_ENDPOINT_URL, credentials, region) and reads the
cluster's applications from APPLICATIONS_ENV and its engine's Hive connector properties from
PRESTO_HIVE_PROPERTIES_ENV or TRINO_HIVE_PROPERTIES_ENV: the shell step's environment sets them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import duckdb
import sqlglot
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlglot import exp

from genre_assets import rendering
from genre_assets.domain.schema import PARQUET_SERDE
from genre_assets.errors import InputError
from genre_assets.rendering import identifier, presto_to_duckdb, validate_identifier
from genre_assets_emulator import emr_rules, hive_serde
from genre_assets_emulator.s3 import split_s3_uri
from genre_assets_emulator.tsv_printer import format_row

OUTPUT_FORMATS = ("TSV", "TSV_HEADER")
# What the emulator tells a step about its cluster: the Hive connector properties of each engine
# (the presto-connector-hive and trino-connector-hive classifications) and the applications.
PRESTO_HIVE_PROPERTIES_ENV = "GENRE_ASSETS_EMULATOR_PRESTO_HIVE_PROPERTIES"
TRINO_HIVE_PROPERTIES_ENV = "GENRE_ASSETS_EMULATOR_TRINO_HIVE_PROPERTIES"
APPLICATIONS_ENV = "GENRE_ASSETS_EMULATOR_APPLICATIONS"  # a JSON list; unset: not known
# Where the consoles log every object they fetch (JSON lines); unset: nowhere.
READS_LOG_ENV = "GENRE_ASSETS_EMULATOR_READS_LOG"
PATH_COLUMN = "$path"


@dataclass(frozen=True)
class Console:
    """One engine's console: its command, its engine and where its connector properties are."""

    cli: str
    engine: str  # presto (PrestoDB 0.283 on emr-6.15.0) or trino (Trino 426)
    properties_env: str

    @property
    def user_agent(self) -> str:
        return f"genre-assets-emulator/{self.cli}"


CONSOLES: dict[str, Console] = {
    console.cli: console
    for console in (
        Console("presto-cli", "presto", PRESTO_HIVE_PROPERTIES_ENV),
        Console("trino-cli", "trino", TRINO_HIVE_PROPERTIES_ENV),
    )
}


class QueryError(Exception):
    """The query failed; the message is what presto-cli would print after `failed:`."""


def _parse(sql: str) -> list[exp.Expr]:
    """The statements of `sql`; a syntax error is a QueryError naming its line and column."""
    try:
        return [s for s in sqlglot.parse(sql, read="presto") if s is not None]
    except sqlglot.errors.SqlglotError as error:  # ParseError, or TokenError (e.g. an open quote)
        first = (getattr(error, "errors", None) or [{}])[0]
        where = f"line {first['line']}:{first['col']}: " if "line" in first else ""
        raise QueryError(f"{where}{first.get('description') or error}") from None


def referenced_tables(sql: str, catalog: str, schema: str | None) -> list[tuple[str, str]]:
    """(database, table) of every catalog table the statements read, CTE names excluded."""
    found: list[tuple[str, str]] = []
    for statement in _parse(sql):
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


def download_table_files(
    s3: Any,
    location: str,
    folder: Path,
    *,
    paths: frozenset[str] | None = None,
    on_fetch: Callable[[str, int], None] | None = None,
) -> list[Path]:
    """Every data file directly under `location`, as Presto's Hive connector lists them; with
    `paths`, only the files whose `s3://bucket/key` is among them (the splits a `"$path"`
    predicate leaves). `on_fetch(uri, bytes)` hears of every object fetched."""
    try:
        bucket, prefix = split_s3_uri(location)
    except ValueError as error:
        raise QueryError(str(error)) from None
    prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            # Hive and Presto skip hidden files (leading '_' or '.'), e.g. _SUCCESS.
            if name and not name.startswith(("_", ".")):
                uri = f"s3://{bucket}/{item['Key']}"
                if paths is not None and uri not in paths:
                    continue  # no split: the object is never opened
                s3.download_file(bucket, item["Key"], str(folder / name))
                files.append(folder / name)
                if on_fetch is not None:
                    on_fetch(uri, (folder / name).stat().st_size)
    return files


def path_predicate(statement: exp.Expr) -> frozenset[str] | None:
    """The files a query's `"$path"` predicate allows, when it is one the Hive connector turns
    into a path domain: a conjunct `"$path" = 'uri'` or `"$path" IN ('uri', ...)` of the WHERE
    of a query over one table. None: every file is read (also for forms not modelled here, so
    the emulator never reads less than the engine would)."""
    select = statement.expression if isinstance(statement, exp.Insert) else statement
    if not isinstance(select, exp.Select) or len(list(select.find_all(exp.Table))) != 1:
        return None
    where = select.args.get("where")
    if where is None:
        return None
    conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    for conjunct in conjuncts:
        if isinstance(conjunct, exp.EQ):
            column, values = conjunct.this, [conjunct.expression]
        elif isinstance(conjunct, exp.In) and not conjunct.args.get("query"):
            column, values = conjunct.this, list(conjunct.expressions)
        else:
            continue
        if (
            isinstance(column, exp.Column)
            and column.name == PATH_COLUMN
            and all(isinstance(v, exp.Literal) and v.is_string for v in values)
        ):
            return frozenset(v.name for v in values)
    return None


def _reads_column(statement: exp.Expr) -> bool:
    return any(c.name == PATH_COLUMN for c in statement.find_all(exp.Column))


def log_read(reads_log: Path | None, entry: dict[str, Any]) -> None:
    """Append one fetched object to the reads log (O_APPEND: steps may run side by side)."""
    if reads_log is None:
        return
    with reads_log.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def read_log(reads_log: Path) -> list[dict[str, Any]]:
    """The entries of a reads log, oldest first ([] when nothing was read)."""
    if not reads_log.exists():
        return []
    return [json.loads(line) for line in reads_log.read_text(encoding="utf-8").splitlines()]


def _chunks(text: str) -> Iterator[tuple[str, str]]:
    """(kind, text) pieces of SQL: "string" (a literal or quoted name), "comment", ";" or "code"."""
    i = 0
    while i < len(text):
        c = text[i]
        if c in ("'", '"'):
            end = i + 1
            while end < len(text):
                if text[end] == c:
                    if text[end + 1 : end + 2] == c:  # a doubled quote stays inside
                        end += 2
                        continue
                    break
                end += 1
            yield "string", text[i : end + 1]
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            yield "comment", text[i:end]
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            yield "comment", text[i:end]
            i = end
        elif c == ";":
            yield ";", c
            i += 1
        else:
            yield "code", c
            i += 1


def split_statements(text: str) -> tuple[list[str], str]:
    """(complete statements, the unterminated rest) as PrestoDB's StatementSplitter finds them:
    `;` ends a statement only outside string literals, quoted identifiers and comments."""
    statements: list[str] = []
    current: list[str] = []
    for kind, chunk in _chunks(text):
        if kind == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(chunk)
    return statements, "".join(current).strip()


def is_empty_statement(statement: str) -> bool:
    """Nothing but white space and comments: the console skips such a statement."""
    return all(kind == "comment" or not chunk.strip() for kind, chunk in _chunks(statement))


def run_query(
    sql: str,
    *,
    catalog: str,
    schema: str | None,
    output_format: str,
    glue: Any,
    s3: Any,
    workdir: Path,
    hive_properties: dict[str, str] | None = None,
    engine: str = "presto",
    reads_log: Path | None = None,
) -> str:
    """The output of one statement as the console of `engine` (presto or trino) prints it;
    raises QueryError when it fails. Every object fetched is appended to `reads_log`."""
    try:
        validate_identifier(catalog, "catalog")
        if schema:
            validate_identifier(schema, "schema")
    except InputError as error:
        raise QueryError(str(error)) from None
    statement = _parse_one(sql)
    if isinstance(statement, exp.Create):
        return _create_table_as(statement, engine, hive_properties or {})
    source_sql = (
        statement.expression.sql(dialect="presto") if isinstance(statement, exp.Insert) else sql
    )
    tables = referenced_tables(source_sql, catalog, schema)
    paths = path_predicate(statement)
    with_path = _reads_column(statement)
    con = duckdb.connect(":memory:")
    folders: dict[str, str] = {}
    try:
        # A catalog named like Presto's makes hive.db.table, db.table and table all resolve.
        con.execute(f"ATTACH ':memory:' AS {catalog}; USE {catalog}")
        for database, name in tables:
            glue_table = _glue_table(glue, catalog, database, name)
            location = glue_table.get("StorageDescriptor", {}).get("Location", "")
            folder = workdir / database / name
            fetched: list[tuple[str, int]] = []
            files = download_table_files(
                s3,
                location,
                folder,
                paths=paths,
                on_fetch=lambda *read: fetched.append(read),  # noqa: B023 (called at once)
            )
            for uri, size in fetched:
                log_read(
                    reads_log,
                    {"engine": engine, "table": f"{database}.{name}", "uri": uri, "bytes": size},
                )
            uris = {folder / uri.rsplit("/", 1)[-1]: uri for uri, _ in fetched}
            folders[f"{folder}/"] = location.rstrip("/") + "/"
            con.execute(rendering.duckdb_create_schema(database))
            _define_table(
                con, database, name, glue_table, files, folder, uris if with_path else None
            )
        if schema:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}; USE {catalog}.{schema}")
        if isinstance(statement, exp.Insert):
            return _insert(
                con, statement, catalog, schema, glue, s3, workdir, hive_properties or {}
            )
        return _execute(con, presto_to_duckdb(sql), output_format)
    except duckdb.Error as error:
        raise QueryError(_describe(error, folders)) from None
    except sqlglot.errors.SqlglotError as error:
        raise QueryError(f"the query could not be transpiled: {error}") from None
    finally:
        con.close()


def _parse_one(sql: str) -> exp.Expr:
    statements = _parse(sql)
    if len(statements) != 1:
        raise QueryError(f"expected one statement, got {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query | exp.Insert | exp.Create):
        raise QueryError(f"{statement.key.upper()} statements are not emulated")
    return statement


def _enabled(hive_properties: dict[str, str], name: str, default: bool) -> bool:
    value = hive_properties.get(name)
    return default if value is None else value.strip().lower() == "true"


def _create_table_as(statement: exp.Create, engine: str, hive_properties: dict[str, str]) -> str:
    """CTAS into an external location, as each engine's HiveMetadata.beginCreateTable judges it:
    PrestoDB refuses it; Trino refuses it unless both non-managed properties allow it, and is
    then not emulated. The pipeline never creates managed tables, so nothing else is emulated."""
    properties = statement.args.get("properties")
    names = [p.name.lower() for p in (properties.expressions if properties else [])]
    if isinstance(statement.expression, exp.Query) and "external_location" in names:
        if engine == "presto":
            raise QueryError("External tables cannot be created using CREATE TABLE AS")
        if not _enabled(hive_properties, "hive.non-managed-table-creates-enabled", True):
            raise QueryError("Creating non-managed Hive tables is disabled")
        if not _enabled(hive_properties, "hive.non-managed-table-writes-enabled", False):
            raise QueryError("Writes to non-managed Hive tables is disabled")
        raise QueryError(
            "CREATE TABLE AS with an external_location is allowed here but not emulated: "
            "the pipeline fills a table Hive defined, with INSERT"
        )
    raise QueryError("only INSERT INTO and queries are emulated, not CREATE TABLE")


def _define_table(
    con: duckdb.DuckDBPyConnection,
    database: str,
    name: str,
    glue_table: dict[str, Any],
    files: list[Path],
    folder: Path,
    uris: dict[Path, str] | None = None,
) -> None:
    """The table as DuckDB sees it: Parquet read as is, text files through the Hive serde model;
    with `uris` (each file's S3 URI), text tables also have the hidden `"$path"` column."""
    descriptor = glue_table.get("StorageDescriptor", {})
    serde_info = descriptor.get("SerdeInfo", {})
    serde = serde_info.get("SerializationLibrary", "")
    columns = [(c["Name"].lower(), c["Type"].lower()) for c in descriptor.get("Columns", [])]
    target = f"{identifier(database, 'duckdb')}.{identifier(name, 'duckdb')}"
    if serde == PARQUET_SERDE:
        if uris is not None:
            raise QueryError(f'"{PATH_COLUMN}" is emulated on text tables only')
        paths = [str(f) for f in files] or None
        source = f"read_parquet({[*paths]!r})" if paths else _empty_select(columns)
        con.execute(f"CREATE VIEW {target} AS SELECT * FROM {source}")
        return
    try:
        header = int(glue_table.get("Parameters", {}).get("skip.header.line.count", "0"))
        rows: list[tuple[object, ...]] = []
        for path in files:
            file_rows = hive_serde.read_rows(
                path.read_bytes(),
                serde=serde,
                parameters=serde_info.get("Parameters", {}),
                column_types=[t for _, t in columns],
                skip_header_lines=header,
            )
            if uris is not None:
                file_rows = [(*row, uris[path]) for row in file_rows]
            rows.extend(file_rows)
        duckdb_types = [_duckdb_type(serde, t) for _, t in columns]
        if uris is not None:
            columns = [*columns, (PATH_COLUMN, "string")]
            duckdb_types.append("VARCHAR")
    except ValueError as error:
        raise QueryError(f"table {database}.{name}: {error}") from None
    normalized = folder / "_rows.csv"
    with normalized.open("w", encoding="utf-8", newline="") as out:
        for row in rows:
            out.write(",".join(_csv_field(v) for v in row) + "\n")
    spec = ", ".join(f"{rendering.string_literal(n, 'duckdb')}: 'VARCHAR'" for n, _ in columns)
    casts = ", ".join(
        f"CAST({_column_name(n)} AS {t}) AS {_column_name(n)}"
        for (n, _), t in zip(columns, duckdb_types, strict=True)
    )
    con.execute(
        f"CREATE TABLE {target} AS SELECT {casts} FROM read_csv("
        f"{rendering.string_literal(str(normalized), 'duckdb')}, header = false, "
        f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"allow_quoted_nulls = false, columns = {{{spec}}})"
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_name(name: str) -> str:
    # The hidden column's name is no identifier of ours: quoted as the engines quote it.
    return f'"{PATH_COLUMN}"' if name == PATH_COLUMN else identifier(name, "duckdb")


def _duckdb_type(serde: str, hive_type: str) -> str:
    if serde.endswith("OpenCSVSerde") or hive_type == "string":
        return "VARCHAR"  # OpenCSVSerde exposes every column as a string
    if hive_type.startswith("decimal"):
        return hive_type.upper()
    mapped = {"bigint": "BIGINT", "int": "INTEGER", "double": "DOUBLE"}.get(hive_type)
    if mapped is None:
        raise ValueError(f"type {hive_type} is not emulated")
    return mapped


def _csv_field(value: object) -> str:
    if value is None:
        return ""  # unquoted empty: NULL
    text = repr(value) if isinstance(value, float) else str(value)
    return '"' + text.replace('"', '""') + '"'


def _empty_select(columns: list[tuple[str, str]]) -> str:
    return (
        "(SELECT "
        + ", ".join(f"NULL AS {identifier(n, 'duckdb')}" for n, _ in columns)
        + " LIMIT 0)"
    )


def _insert(
    con: duckdb.DuckDBPyConnection,
    statement: exp.Insert,
    catalog: str,
    schema: str | None,
    glue: Any,
    s3: Any,
    workdir: Path,
    hive_properties: dict[str, str],
) -> str:
    """INSERT INTO an external Parquet table, as PrestoDB's and Trino's Hive connectors do it."""
    target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
    database = (target.db or schema or "").lower()
    name = target.name.lower()
    glue_table = _glue_table(glue, catalog, database, name)
    if glue_table.get("TableType") != "MANAGED_TABLE" and not _enabled(
        hive_properties, "hive.non-managed-table-writes-enabled", False
    ):
        # HiveWriteUtils.checkTableIsWritable, alike in PrestoDB and Trino (docs/aws-fidelity.md).
        raise QueryError("Cannot write to non-managed Hive table")
    descriptor = glue_table.get("StorageDescriptor", {})
    if descriptor.get("SerdeInfo", {}).get("SerializationLibrary") != PARQUET_SERDE:
        raise QueryError("the emulator writes only Parquet tables")
    select = presto_to_duckdb(statement.expression.sql(dialect="presto"))
    # By position, coerced to the table's column types and written under its column names, as
    # the connectors' INSERT does (DuckDB's own types, e.g. HUGEINT counts, never reach a file).
    con.execute(f"CREATE TEMP TABLE insert_rows AS {select}")
    names = [d[0] for d in con.execute("SELECT * FROM insert_rows LIMIT 0").description]
    target_columns = [(c["Name"], c["Type"]) for c in descriptor.get("Columns", [])]
    if len(names) != len(target_columns):
        raise QueryError(
            f"Insert query has {len(names)} columns, table {database}.{name} has "
            f"{len(target_columns)}"
        )
    casts = ", ".join(
        f"CAST({_quoted(source)} AS {_duckdb_type(PARQUET_SERDE, hive_type.lower())}) "
        f"AS {identifier(target_name.lower(), 'duckdb')}"
        for source, (target_name, hive_type) in zip(names, target_columns, strict=True)
    )
    local = workdir / "insert.parquet"
    rows = con.execute(
        f"COPY (SELECT {casts} FROM insert_rows) TO '{local}' (FORMAT parquet)"
    ).fetchall()[0][0]
    bucket, prefix = split_s3_uri(descriptor.get("Location", ""))
    prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    s3.upload_file(str(local), bucket, f"{prefix}{_query_id()}_{uuid.uuid4().hex[:8]}")
    print(f"INSERT: {rows} row{'s' if rows != 1 else ''}", file=sys.stderr)
    return ""


def _glue_table(glue: Any, catalog: str, database: str, name: str) -> dict[str, Any]:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except ClientError as error:
        # Imported when needed (as describe_duckdb_error below): both modules import dagster,
        # about a second more for every console a step starts.
        from genre_assets.resources.aws.glue_catalog import is_not_found

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
    from genre_assets.resources.local.duckdb_engine import describe_duckdb_error

    text = describe_duckdb_error(error)
    for local, remote in folders.items():
        text = text.replace(local, remote)
    return text


def _query_id() -> str:
    return time.strftime("%Y%m%d_%H%M%S", time.gmtime()) + f"_00000_{uuid.uuid4().hex[:5]}"


def build_parser(cli: str = "presto-cli") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=cli, description=f"genre-assets' emulated {cli}")
    parser.add_argument("--server", help="ignored: the emulated Presto runs in this process")
    parser.add_argument("--user", help="ignored")
    parser.add_argument("--catalog", default="hive")
    parser.add_argument("--schema")
    parser.add_argument("--output-format", default="CSV")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--file", help="a file of SQL statements")
    which.add_argument("--execute", help="SQL statements")
    return parser


def cluster_applications() -> frozenset[str] | None:
    """The applications of the cluster this step runs on, as the emulator set them; None when
    it did not say."""
    text = os.environ.get(APPLICATIONS_ENV)
    return None if text is None else frozenset(json.loads(text))


def main(argv: list[str] | None = None, cli: str = "presto-cli") -> int:
    console = CONSOLES[cli]
    if not emr_rules.query_cli_installed(cli, cluster_applications()):
        application = emr_rules.QUERY_CLI_APPLICATIONS[cli]
        print(
            f"{cli}: command not found (emulated: the cluster has no {application} application)",
            file=sys.stderr,
        )
        return 127
    args = build_parser(cli).parse_args(argv)
    if args.output_format.upper() not in OUTPUT_FORMATS:
        print(
            f"{cli} (emulated): --output-format {args.output_format} is not emulated; "
            f"use one of {', '.join(OUTPUT_FORMATS)}",
            file=sys.stderr,
        )
        return 2
    # Console.java: the file is read as it is; only --execute gets a terminator appended.
    sql = Path(args.file).read_text(encoding="utf-8") if args.file else args.execute + ";"
    statements, partial = split_statements(sql)
    hive_properties = json.loads(os.environ.get(console.properties_env) or "{}")
    session = boto3.session.Session()
    # The master always has a region; a bare `--execute` without tables must not need one.
    session = boto3.session.Session(region_name=session.region_name or "us-east-1")
    config = Config(
        user_agent_extra=console.user_agent, retries={"max_attempts": 3, "mode": "standard"}
    )
    glue, s3 = session.client("glue", config=config), session.client("s3", config=config)
    reads_log = os.environ.get(READS_LOG_ENV)
    for number, statement in enumerate(statements):
        if is_empty_statement(statement):
            continue
        with tempfile.TemporaryDirectory(prefix=f"{cli}-") as workdir:
            try:
                text = run_query(
                    statement,
                    catalog=args.catalog.lower(),
                    schema=args.schema.lower() if args.schema else None,
                    output_format=args.output_format.upper(),
                    glue=glue,
                    s3=s3,
                    workdir=Path(workdir) / str(number),
                    hive_properties=hive_properties,
                    engine=console.engine,
                    reads_log=Path(reads_log) if reads_log else None,
                )
            except QueryError as error:
                print(f"Query {_query_id()} failed: {error}", file=sys.stderr)
                return 1
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    if not is_empty_statement(partial):
        print(f"Non-terminated statement: {partial}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
