"""Loads the Jinja2 templates in `sql/` and renders them safely.

Values reach SQL only through the filters defined here: `ident` (a validated identifier) and the
dialect-correct string literals `hive_string`, `presto_string`, `duckdb_string`, plus
`shell_quote` for the EMR shell script. Undefined template variables are errors.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
from pathlib import Path

import jinja2
import sqlglot
from sqlglot import exp

from genre_assets.errors import ConfigurationError, InputError

_IDENTIFIER = re.compile(r"^[a-z0-9_]{1,128}$")
_QUOTES = {"hive": "`", "presto": '"', "duckdb": '"'}


def sql_dir() -> Path:
    """The `sql/` folder at the project root (next to the package in a checkout)."""
    configured = os.environ.get("GENRE_ASSETS_SQL_DIR")
    folder = Path(configured) if configured else Path(__file__).resolve().parent.parent / "sql"
    if not folder.is_dir():
        raise ConfigurationError(
            f"SQL templates not found at {folder}: install genre-assets from a checkout "
            "(pip install -e .) or set GENRE_ASSETS_SQL_DIR"
        )
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
    if "\x00" in value:
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
    return env


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
