"""The emulated `hive -f script.hql`: applies Hive DDL to the (emulated) Glue Data Catalog.

On EMR, Hive with the Glue metastore client turns DDL into Glue API calls; here sqlglot parses the
script in the Hive dialect and each statement becomes the Glue call Hive would make, with the
TableInput in the shape `genre_assets.resources.aws.glue_tables` describes. So a table created by an emulated
step satisfies `glue_tables.matches()` exactly when one created by real Hive would.

Supported: CREATE DATABASE/SCHEMA [IF NOT EXISTS], DROP TABLE [IF EXISTS], CREATE EXTERNAL TABLE
[IF NOT EXISTS] (TEXTFILE, ROW FORMAT SERDE/DELIMITED, LOCATION, TBLPROPERTIES) and USE. Anything
else fails the script with a reason, as an unsupported statement would fail a real step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from botocore.exceptions import ClientError
from sqlglot import exp

from genre_assets.domain.schema import (
    LAZY_SIMPLE_SERDE,
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    TEXT_INPUT,
    TEXT_OUTPUT,
)
from genre_assets.resources.aws.glue_catalog import is_not_found
from genre_assets.resources.aws.glue_tables import TableShape
from genre_assets_emulator.tables import table_input

# ROW FORMAT DELIMITED clause -> the SerDe parameters Hive records for it.
_DELIMITED_PARAMETERS = {
    "fields": ("field.delim", "serialization.format"),
    "escaped": ("escape.delim",),
    "collection_items": ("collection.delim",),
    "map_keys": ("mapkey.delim",),
    "lines": ("line.delim",),
    "null": ("serialization.null.format",),
}
_KNOWN_TABLE_PROPERTIES = (
    exp.ExternalProperty,
    exp.SchemaCommentProperty,
    exp.RowFormatSerdeProperty,
    exp.RowFormatDelimitedProperty,
    exp.FileFormatProperty,
    exp.LocationProperty,
)


class HiveError(Exception):
    """A statement Hive would reject; the message is the step's failure reason."""


@dataclass
class HiveSession:
    """What `hive -f` keeps between statements: the current database and what it printed."""

    glue: Any
    database: str = "default"
    output: list[str] = field(default_factory=list)


def parse_script(text: str) -> list[exp.Expr]:
    """Every statement of the script; raises HiveError naming the line of a syntax error."""
    try:
        statements = sqlglot.parse(text, read="hive")
    except sqlglot.errors.SqlglotError as error:  # ParseError, or TokenError (e.g. an open quote)
        first = (getattr(error, "errors", None) or [{}])[0]
        where = f"line {first.get('line')}, column {first.get('col')}: " if first else ""
        description = first.get("description") or str(error)
        near = first.get("highlight")
        raise HiveError(
            f"ParseException {where}{description}" + (f" near {near!r}" if near else "")
        ) from None
    return [s for s in statements if s is not None]


def run_script(text: str, glue: Any) -> list[str]:
    """Parse, then apply each statement in order, as `hive -f` does; returns Hive's output lines.

    The whole script is parsed first, so a syntax error changes nothing (real Hive would have run
    the statements before it): stricter than Hive, never looser.
    """
    statements = parse_script(text)
    if not statements:
        raise HiveError("the script holds no statement")
    session = HiveSession(glue=glue)
    for number, statement in enumerate(statements, start=1):
        try:
            _apply(statement, session)
        except HiveError as error:
            raise HiveError(f"statement {number} ({_summary(statement)}): {error}") from None
        session.output.append("OK")
    return session.output


def _summary(statement: exp.Expr) -> str:
    text = statement.sql(dialect="hive")
    return text if len(text) <= 80 else text[:77] + "..."


def _apply(statement: exp.Expr, session: HiveSession) -> None:
    handlers: dict[type, Callable[[Any, HiveSession], None]] = {
        exp.Create: _create,
        exp.Drop: _drop,
        exp.Use: _use,
    }
    handler = handlers.get(type(statement))
    if handler is None:
        raise HiveError(f"unsupported statement {type(statement).__name__.upper()} in the emulator")
    handler(statement, session)


def _use(statement: exp.Use, session: HiveSession) -> None:
    name = statement.this.name.lower()
    _require_database(session.glue, name)
    session.database = name


def _create(statement: exp.Create, session: HiveSession) -> None:
    kind = (statement.args.get("kind") or "").upper()
    if kind in ("DATABASE", "SCHEMA"):
        _create_database(statement, session)
    elif kind == "TABLE":
        _create_table(statement, session)
    else:
        raise HiveError(f"unsupported statement CREATE {kind} in the emulator")


def _create_database(statement: exp.Create, session: HiveSession) -> None:
    name = statement.this.name.lower()
    description = ""
    # Hive's Glue client gives a database without LOCATION the warehouse path of the cluster,
    # hive.metastore.warehouse.dir, which is HDFS on EMR (docs/aws-fidelity.md).
    location = f"{CLUSTER_WAREHOUSE}/{name}.db"
    for prop in _properties(statement):
        if isinstance(prop, exp.SchemaCommentProperty):
            description = prop.this.name
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        else:
            raise HiveError(f"unsupported database property {prop.sql(dialect='hive')!r}")
    try:
        session.glue.create_database(
            DatabaseInput={"Name": name, "Description": description, "LocationUri": location}
        )
    except ClientError as error:
        if _code(error) != "AlreadyExistsException":
            raise
        if not statement.args.get("exists"):
            raise HiveError(f"AlreadyExistsException: Database {name} already exists") from None


def _drop(statement: exp.Drop, session: HiveSession) -> None:
    kind = (statement.args.get("kind") or "").upper()
    if kind != "TABLE":
        raise HiveError(f"unsupported statement DROP {kind} in the emulator")
    for table in statement.args.get("tables") or [statement.this]:
        database, name = _table_name(table, session)
        _require_database(session.glue, database)
        try:
            session.glue.delete_table(DatabaseName=database, Name=name)
        except ClientError as error:
            if not is_not_found(error):
                raise
            if not statement.args.get("exists"):
                raise HiveError(f"SemanticException: Table not found {database}.{name}") from None


def _create_table(statement: exp.Create, session: HiveSession) -> None:
    schema = statement.this
    if not isinstance(schema, exp.Schema):
        raise HiveError("CREATE TABLE without a column list (e.g. CREATE TABLE AS) is not emulated")
    database, name = _table_name(schema.this, session)
    _require_database(session.glue, database)
    properties = _properties(statement)
    # Every clause is an exp.Property subclass; a bare exp.Property is a TBLPROPERTIES entry.
    unknown = [
        p
        for p in properties
        if not (isinstance(p, _KNOWN_TABLE_PROPERTIES) or type(p) is exp.Property)
    ]
    if unknown:
        raise HiveError(f"unsupported table clause {unknown[0].sql(dialect='hive')!r}")
    if not any(isinstance(p, exp.ExternalProperty) for p in properties):
        # A managed table's data would live in a warehouse directory the emulator does not have.
        raise HiveError("only EXTERNAL tables are emulated")
    table = _table_input(name, schema, properties)
    try:
        session.glue.create_table(DatabaseName=database, TableInput=table)
    except ClientError as error:
        if _code(error) != "AlreadyExistsException":
            raise
        if not statement.args.get("exists"):
            raise HiveError(
                f"AlreadyExistsException: Table {database}.{name} already exists"
            ) from None


def _table_input(name: str, schema: exp.Schema, properties: list[exp.Expression]) -> dict[str, Any]:
    """The Glue TableInput Hive's CREATE EXTERNAL TABLE produces, built by `table_input()`."""
    columns = []
    comments = []
    for column in schema.expressions:
        if not isinstance(column, exp.ColumnDef) or column.args.get("kind") is None:
            raise HiveError(f"unsupported column definition {column.sql(dialect='hive')!r}")
        # Hive records types lower-case and without spaces: decimal(10,4), array<string>.
        hive_type = column.args["kind"].sql(dialect="hive").lower().replace(" ", "")
        columns.append((column.name.lower(), hive_type))
        comment = column.find(exp.CommentColumnConstraint)
        comments.append(comment.this.name if comment else None)

    location = serde = description = None
    formats: tuple[str, str] | None = None
    serde_parameters: dict[str, str] = {}
    table_properties: dict[str, str] = {}
    for prop in properties:
        if isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.SchemaCommentProperty):
            description = prop.this.name
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = prop.this.name
            extra = prop.args.get("serde_properties")
            serde_parameters = _key_values(extra.expressions if extra else [])
            # Hive records serialization.format=1 when a SERDE clause leaves it out (seen with
            # Hive's own DDL code in genre_assets_tests/hive/).
            serde_parameters.setdefault("serialization.format", "1")
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            serde = LAZY_SIMPLE_SERDE
            serde_parameters = _delimited_parameters(prop)
        elif isinstance(prop, exp.FileFormatProperty) and isinstance(
            prop.this, exp.InputOutputFormat
        ):
            formats = (
                prop.this.args["input_format"].name,
                prop.this.args["output_format"].name,
            )
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = prop.this.name.upper()
            if file_format not in _STORED_AS:
                raise HiveError(f"STORED AS {file_format} is not emulated")
            formats = _STORED_AS[file_format]
        elif type(prop) is exp.Property:
            # The only bare key = value properties at this level are TBLPROPERTIES.
            table_properties.update(_key_values([prop]))
    if not location:
        raise HiveError("an EXTERNAL table needs a LOCATION")
    if serde is None:
        # Hive's default for TEXTFILE without ROW FORMAT: LazySimpleSerDe, ^A-delimited.
        serde, serde_parameters = LAZY_SIMPLE_SERDE, {"serialization.format": "1"}

    shape = TableShape(
        location=location,
        columns=tuple(columns),
        serde=serde,
        skip_header=table_properties.get("skip.header.line.count") == "1",
        serde_parameters=tuple(sorted(serde_parameters.items())),
    )
    result = table_input(name, shape, description or "")
    if formats:
        descriptor = result["StorageDescriptor"]
        descriptor["InputFormat"], descriptor["OutputFormat"] = formats
    result["Parameters"].update(table_properties)
    for entry, comment in zip(result["StorageDescriptor"]["Columns"], comments, strict=True):
        if comment is not None:
            entry["Comment"] = comment
    return result


# hive.metastore.warehouse.dir on an EMR master: HDFS on the cluster itself.
CLUSTER_WAREHOUSE = "hdfs://ip-10-0-0-1.ec2.internal:8020/user/hive/warehouse"

# STORED AS <format> -> the input and output format classes Hive records for it.
_STORED_AS = {
    "TEXTFILE": (TEXT_INPUT, TEXT_OUTPUT),
    "PARQUET": (PARQUET_INPUT, PARQUET_OUTPUT),
}


def _delimited_parameters(prop: exp.RowFormatDelimitedProperty) -> dict[str, str]:
    parameters = {}
    for clause, keys in _DELIMITED_PARAMETERS.items():
        value = prop.args.get(clause)
        if value is not None:
            for key in keys:
                parameters[key] = value.name
    return parameters


def _key_values(items: list[exp.Expression]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, value = item.this, item.args.get("value")
        if not isinstance(key, exp.Literal) or not isinstance(value, exp.Literal):
            raise HiveError(f"unsupported property {item.sql(dialect='hive')!r}")
        pairs[key.name] = value.name
    return pairs


def _properties(statement: exp.Create) -> list[exp.Expression]:
    properties = statement.args.get("properties")
    return list(properties.expressions) if properties else []


def _table_name(table: exp.Table, session: HiveSession) -> tuple[str, str]:
    # Hive (and Glue) keep names lower-case; an unqualified name is in the current database.
    return (table.db or session.database).lower(), table.name.lower()


def _require_database(glue: Any, name: str) -> None:
    try:
        glue.get_database(Name=name)
    except ClientError as error:
        if is_not_found(error):
            raise HiveError(f"SemanticException: Database does not exist: {name}") from None
        raise


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")
