"""The one description of every table: columns, types, storage format and lake folder.

Hive DDL for EMR (`sql/hive/*.hql.j2`) and the local engine's DDL (`sql/duckdb/*.sql.j2`) are both
rendered from these objects, so the two deployments cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class StorageFormat(str, Enum):
    # RFC 4180 CSV with quoted fields: Hive's OpenCSVSerde, which reads every column as STRING
    # (Presto refuses other types on it), so typed values are cast in the query.
    QUOTED_CSV = "quoted_csv"
    # Plain comma-delimited text with no quoting (MovieLens ratings): typed columns are fine.
    DELIMITED_CSV = "delimited_csv"
    # The genre exports: tab-delimited, backslash-escaped exactly as presto-cli's TSV output.
    ESCAPED_TSV = "escaped_tsv"
    # The columnar cache on EMR: Parquet written by a Presto CTAS (no header line).
    PARQUET = "parquet"


# Logical type -> (Hive type, DuckDB type).
_TYPES: dict[str, tuple[str, str]] = {
    "string": ("STRING", "VARCHAR"),
    "bigint": ("BIGINT", "BIGINT"),
    "int": ("INT", "INTEGER"),
    "double": ("DOUBLE", "DOUBLE"),
    "decimal(10,4)": ("DECIMAL(10,4)", "DECIMAL(10,4)"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"column {self.name}: unknown logical type {self.type!r}")

    @property
    def hive_type(self) -> str:
        return _TYPES[self.type][0]

    @property
    def duckdb_type(self) -> str:
        return _TYPES[self.type][1]


@dataclass(frozen=True)
class TableSpec:
    name: str
    folder: str  # lake key of the folder the table reads, ending in "/"
    storage: StorageFormat
    columns: tuple[Column, ...]
    file_suffix: str  # which files in the folder hold data
    comment: str
    # The columns the genre query reads: all the columnar cache needs to keep.
    cached_columns: tuple[str, ...] = ()
    # The header line of the raw MovieLens files behind a source table (docs/contract.md).
    csv_header: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def cache_columns(self) -> tuple[Column, ...]:
        wanted = self.cached_columns or tuple(self.column_names)
        return tuple(c for c in self.columns if c.name in wanted)


MOVIES = TableSpec(
    name="movies",
    folder="movielens/movies/",
    storage=StorageFormat.QUOTED_CSV,
    columns=(
        Column("movie_id", "string", "movieId"),
        Column("title", "string", "title with release year, e.g. 'Heat (1995)'"),
        Column("genres", "string", "genres separated by '|'"),
    ),
    file_suffix=".csv",
    comment="MovieLens movies.csv files",
    csv_header=("movieId", "title", "genres"),
)

RATINGS = TableSpec(
    name="ratings",
    folder="movielens/ratings/",
    storage=StorageFormat.DELIMITED_CSV,
    columns=(
        Column("user_id", "bigint", "userId"),
        Column("movie_id", "bigint", "movieId"),
        Column("rating", "double", "0.5 to 5.0 in half stars"),
        Column("rated_at", "bigint", "timestamp, seconds since the epoch"),
    ),
    file_suffix=".csv",
    comment="MovieLens ratings.csv files",
    cached_columns=("movie_id", "rating"),
    csv_header=("userId", "movieId", "rating", "timestamp"),
)

SOURCE_TABLES: tuple[TableSpec, ...] = (MOVIES, RATINGS)

# Columns of every genre film table and of its TSV export, in file order (docs/contract.md).
GENRE_FILM_COLUMNS: tuple[Column, ...] = (
    Column("movie_id", "bigint", "movieId"),
    Column("title", "string", "title without the year suffix"),
    Column("year", "int", "first year of the title's suffix; NULL when it has none"),
    Column("avg_rating", "decimal(10,4)", "mean rating, 4 decimal places"),
    Column("rating_count", "bigint", "number of ratings"),
)


def genre_table_spec(table: str, folder: str) -> TableSpec:
    """The spec of one genre's table over its export folder."""
    return TableSpec(
        name=table,
        folder=folder,
        storage=StorageFormat.ESCAPED_TSV,
        columns=GENRE_FILM_COLUMNS,
        file_suffix=".tsv",
        comment="films of one genre with their average rating (genre-assets)",
    )


def ratings_cache_spec(table: str, folder: str) -> TableSpec:
    """The EMR columnar cache of `ratings`: the columns the genre query reads, as Parquet."""
    return TableSpec(
        name=table,
        folder=folder,
        storage=StorageFormat.PARQUET,
        columns=RATINGS.cache_columns,
        file_suffix="",
        comment="ratings as Parquet, keyed to the raw files (genre-assets columnar cache)",
    )
