"""Every script the pipeline runs, rendered from the Jinja2 templates in `sql/`.

Hive, Presto and shell scripts for EMR and DuckDB statements for the local engine. The Presto genre
query is the single source of truth: `local_genre_export_sql` runs the same rendered text through
sqlglot, so every local run also exercises the SQL that EMR runs.

Values reach SQL only through the filters defined here: `ident` (a validated identifier) and the
dialect-correct string literals `hive_string`, `presto_string`, `duckdb_string`, plus
`shell_quote` for the EMR shell scripts and `jmespath_literal` for the tag keys their `aws`
queries name. Undefined template variables are errors.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import sqlglot
from sqlglot import exp

from genre_assets.domain.schema import RATINGS, TableSpec
from genre_assets.domain.targets import GenreTarget
from genre_assets.domain.tsv import TSV_HEADER
from genre_assets.errors import ConfigurationError, InputError

_IDENTIFIER = re.compile(r"^[a-z0-9_]{1,128}$")
_QUOTES = {"hive": "`", "presto": '"', "duckdb": '"'}


def sql_dir() -> Path:
    """The installed templates: the top-level `sql/` folder, shipped as package `genre_assets.sql`."""
    folder = Path(str(resources.files("genre_assets.sql")))
    if not (folder / "presto").is_dir():
        raise ConfigurationError(f"SQL templates not found in {folder}: reinstall genre-assets")
    return folder


def validate_identifier(name: str, what: str = "identifier") -> str:
    """1-128 lower-case letters, digits and `_`: the names Glue keeps as typed."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise InputError(
            f"{what} {name!r} is not allowed: use 1-128 lower-case letters, digits or '_'"
        )
    return name


def identifier(name: str, dialect: str) -> str:
    """A validated identifier, quoted for `dialect` when it starts with a digit (`3d_films`)."""
    validate_identifier(name)
    quote = _QUOTES[dialect]
    return f"{quote}{name}{quote}" if name[0].isdigit() else name


def string_literal(value: str, dialect: str) -> str:
    """A string literal that the given SQL dialect reads back as exactly `value`."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string literal, got {type(value).__name__}")
    if "\x00" in value and dialect != "hive":
        # Hive reads '\0' as NUL (the quoted-CSV escapeChar needs it); DuckDB and Presto cannot.
        raise InputError("a NUL character cannot be written into SQL")
    return exp.Literal.string(value).sql(dialect=dialect)


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(sql_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for dialect in _QUOTES:
        env.filters[f"{dialect}_ident"] = functools.partial(identifier, dialect=dialect)
    env.filters["hive_string"] = lambda v: string_literal(v, "hive")
    env.filters["presto_string"] = lambda v: string_literal(v, "presto")
    env.filters["duckdb_string"] = lambda v: string_literal(v, "duckdb")
    env.filters["shell_quote"] = shlex.quote
    env.filters["jmespath_literal"] = jmespath_literal
    return env


_PLAIN_TAG_KEY = re.compile(r"[A-Za-z0-9 _.:/=+@-]+")


def jmespath_literal(value: str) -> str:
    """A JMESPath raw string literal for a tag key, safe inside a double-quoted shell word too
    (only the characters EMR allows in tag keys; none that either language treats specially)."""
    if not _PLAIN_TAG_KEY.fullmatch(value):
        raise InputError(f"{value!r} cannot be written into a JMESPath query")
    return f"'{value}'"


def render(template: str, **values: object) -> str:
    """Render `sql/<template>` with `values`; a missing value raises instead of rendering ''."""
    return _environment().get_template(template).render(**values)


def presto_to_duckdb(presto_sql: str) -> str:
    """Transpile Presto SQL to DuckDB, so the local engine runs the very query EMR runs."""
    return ";\n".join(
        statement
        for statement in sqlglot.transpile(presto_sql, read="presto", write="duckdb", pretty=True)
        if statement.strip()
    )


def hive_create_database(database: str, location: str) -> str:
    """`location`: where managed tables would go; without it the Glue database would point at
    the transient cluster's HDFS warehouse (docs/aws-fidelity.md)."""
    return render("hive/create_database.hql.j2", database=database, location=location)


def hive_create_table(database: str, table: TableSpec, location: str) -> str:
    return render("hive/create_table.hql.j2", database=database, table=table, location=location)


def presto_genre_query(
    database: str,
    targets: Sequence[GenreTarget],
    ratings_table: str = RATINGS.name,
    *,
    ratings_aggregated: bool = False,
    aggregate_tables: Sequence[str] = (),
) -> str:
    """The genre query over the ratings table; with `ratings_aggregated`, over a table of
    per-file rating aggregates (the local engine's view), and with `aggregate_tables`, over the
    union of those tables (EMR's per-file aggregates, one table per ratings file)."""
    if not targets:
        raise ValueError("the genre query needs at least one genre")
    return render(
        "presto/genre_films.sql.j2",
        database=database,
        genres=targets,
        ratings_table=ratings_table,
        ratings_aggregated=ratings_aggregated or bool(aggregate_tables),
        aggregate_tables=list(aggregate_tables),
    )


def presto_fill_rating_aggregate(
    database: str, table: TableSpec, source: TableSpec, source_uri: str
) -> str:
    """The INSERT that fills one ratings file's aggregate `table` from the rows of `source` whose
    hidden "$path" is `source_uri` (that file's s3:// URI)."""
    return render(
        "presto/fill_rating_aggregate.sql.j2",
        database=database,
        table=table,
        source=source,
        source_uri=source_uri,
    )


def hive_drop_table(database: str, table: str) -> str:
    return render("hive/drop_table.hql.j2", database=database, table=table)


# The consoles that run Presto-dialect scripts on an EMR master: PrestoDB's and Trino's. Both take
# the same flags and print TSV alike (docs/aws-fidelity.md).
QUERY_CLIS = ("presto-cli", "trino-cli")


def _query_cli(cli: str) -> str:
    if cli not in QUERY_CLIS:
        raise ValueError(f"{cli!r} is not a query console: use one of {QUERY_CLIS}")
    return cli


@dataclass(frozen=True)
class AggregateFill:
    """One INSERT of the rating aggregates' step: its script, the file it reads and the marker
    written once it succeeded; `expects_rows`: the file has more than its header; `table` and
    `location`: the aggregate table the INSERT fills and the folder this run defined it over."""

    script_uri: str
    source_uri: str
    complete_marker_uri: str
    expects_rows: bool
    table: str
    location: str


def emr_fill_rating_aggregates_script(
    database: str,
    fills: Sequence[AggregateFill],
    remove_uris: Sequence[str] = (),
    *,
    cli: str = "presto-cli",
) -> str:
    """The shell step that runs each fill's INSERT with `cli` (presto-cli or trino-cli) and marks
    it complete, then removes the folders `remove_uris` (aggregates of files gone or changed)."""
    for fill in fills:
        validate_identifier(fill.table, "table name")
    return render(
        "shell/fill_rating_aggregates.sh.j2",
        database=validate_identifier(database, "database name"),
        statements=list(fills),
        remove_uris=list(remove_uris),
        cli=_query_cli(cli),
    )


def emr_export_script(
    database: str,
    query_uri: str,
    targets: Sequence[GenreTarget],
    export_uris: Sequence[str],
    *,
    cli: str = "presto-cli",
) -> str:
    """The shell step that runs the genre query with `cli` (presto-cli or trino-cli) and uploads
    one TSV per genre."""
    return render(
        "shell/run_presto_query.sh.j2",
        database=validate_identifier(database, "database name"),
        query_uri=query_uri,
        header=TSV_HEADER,
        genres=[{"slug": t.slug, "uri": uri} for t, uri in zip(targets, export_uris, strict=True)],
        cli=_query_cli(cli),
    )


def emr_lease_watchdog_script(
    region: str, *, lease_seconds: int, check_seconds: int, lease_tag: str, deadline_tag: str
) -> str:
    """The bootstrap action that terminates the cluster once its lease or deadline has passed."""
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]", region):
        raise InputError(f"{region!r} is not an AWS region name")
    if not 1 <= check_seconds <= lease_seconds:
        raise InputError(f"the watchdog must check within the lease ({check_seconds} s)")
    return render(
        "shell/lease_watchdog.sh.j2",
        region=region,
        lease_seconds=int(lease_seconds),
        check_seconds=int(check_seconds),
        lease_tag=lease_tag,
        deadline_tag=deadline_tag,
        log_name=LEASE_WATCHDOG_LOG,
    )


# The watchdog's log, in the hadoop user's home folder on the master node.
LEASE_WATCHDOG_LOG = "genre-assets-lease-watchdog.log"


def duckdb_create_schema(database: str) -> str:
    return render("duckdb/create_schema.sql.j2", database=database)


# Starts the error a local view raises for a fractional value in an integer column.
NOT_WHOLE_MARKER = "not a whole number in column"


def duckdb_create_view(database: str, table: TableSpec, files_glob: str, location: str) -> str:
    return render(
        "duckdb/create_view.sql.j2",
        database=database,
        table=table,
        files_glob=files_glob,
        location=location,
        whole_number_columns=table.whole_number_columns,
        NOT_WHOLE_MARKER=NOT_WHOLE_MARKER,
    )


def duckdb_create_parquet_view(database: str, table: TableSpec, path: str) -> str:
    return render("duckdb/create_parquet_view.sql.j2", database=database, table=table, path=path)


def local_genre_export_sql(
    database: str, targets: Sequence[GenreTarget], aggregates_table: str | None = None
) -> str:
    """The Presto genre query transpiled to DuckDB, wrapped to yield one TSV body per genre; it
    reads `aggregates_table` (per-file rating aggregates) when given, else the ratings."""
    validate_identifier(database, "database name")
    query = (
        presto_genre_query(database, targets, aggregates_table, ratings_aggregated=True)
        if aggregates_table
        else presto_genre_query(database, targets)
    )
    return render("duckdb/genre_export_lines.sql.j2", genre_query=presto_to_duckdb(query))
