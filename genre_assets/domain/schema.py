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
    # The columnar cache on EMR: Parquet written by a Presto INSERT (no header line).
    PARQUET = "parquet"

    @property
    def storage(self) -> Storage:
        return STORAGE[self]


OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


@dataclass(frozen=True)
class Storage:
    """How the files of a format are read, as the Hive DDL declares it and Glue records it."""

    serde: str
    serde_parameters: tuple[tuple[str, str], ...]
    input_format: str
    output_format: str
    header_lines: int  # skip.header.line.count

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.serde_parameters)


STORAGE: dict[StorageFormat, Storage] = {
    # escapeChar NUL: opencsv's default escape '\\' would drop every backslash that is not
    # followed by a quote (`Back\slash` would read as `Backslash`), and a quote inside a field is
    # doubled in RFC 4180 anyway. NUL never occurs in text, so nothing is an escape
    # (docs/aws-fidelity.md, checked with Hive's own serde in genre_assets_tests/hive/).
    StorageFormat.QUOTED_CSV: Storage(
        OPEN_CSV_SERDE,
        (("escapeChar", "\x00"), ("quoteChar", '"'), ("separatorChar", ",")),
        TEXT_INPUT,
        TEXT_OUTPUT,
        header_lines=1,
    ),
    StorageFormat.DELIMITED_CSV: Storage(
        LAZY_SIMPLE_SERDE,
        (("field.delim", ","), ("serialization.format", ",")),
        TEXT_INPUT,
        TEXT_OUTPUT,
        header_lines=1,
    ),
    StorageFormat.ESCAPED_TSV: Storage(
        LAZY_SIMPLE_SERDE,
        (("escape.delim", "\\"), ("field.delim", "\t"), ("serialization.format", "\t")),
        TEXT_INPUT,
        TEXT_OUTPUT,
        header_lines=1,
    ),
    StorageFormat.PARQUET: Storage(
        PARQUET_SERDE, (), PARQUET_INPUT, PARQUET_OUTPUT, header_lines=0
    ),
}


# Logical type -> (Hive type, DuckDB type).
_TYPES: dict[str, tuple[str, str]] = {
    "string": ("STRING", "VARCHAR"),
    "bigint": ("BIGINT", "BIGINT"),
    "int": ("INT", "INTEGER"),
    "double": ("DOUBLE", "DOUBLE"),
    "decimal(10,4)": ("DECIMAL(10,4)", "DECIMAL(10,4)"),
    # Exact sums of half-star ratings: 32 integer digits outlast any lake.
    "decimal(38,6)": ("DECIMAL(38,6)", "DECIMAL(38,6)"),
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

    @property
    def whole_number_columns(self) -> tuple[str, ...]:
        """Integer columns of plain delimited files: every engine reads them as DOUBLE and holds
        them to being whole. Read as BIGINT, `1.5` would be rounded by DuckDB and truncated by
        Hive's LazyLong, either way crediting the rating to another film (docs/aws-fidelity.md)."""
        if self.storage is not StorageFormat.DELIMITED_CSV:
            return ()
        return tuple(c.name for c in self.columns if c.type == "bigint")

    def stored_type(self, column: Column) -> str:
        """The Hive type the table declares for `column` (DOUBLE for whole-number columns)."""
        return "DOUBLE" if column.name in self.whole_number_columns else column.hive_type


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
        # As the ratings table declares them: Presto's INSERT writes what it reads.
        columns=tuple(
            Column(
                c.name, "double" if c.name in RATINGS.whole_number_columns else c.type, c.comment
            )
            for c in RATINGS.cache_columns
        ),
        file_suffix="",
        comment="ratings as Parquet, keyed to the raw files (genre-assets columnar cache)",
    )


# Glue names of the EMR per-file rating aggregates start with this; any other table is not theirs.
RATING_AGGREGATE_PREFIX = "rating_agg_"


def rating_aggregate_spec(table: str, folder: str) -> TableSpec:
    """One ratings file's aggregate on EMR, as Parquet in the lake: per movie, the exact sum and
    the count of its valid ratings and the count of all its rows (the local engine's entries,
    `sql/duckdb/write_rating_aggregate.sql.j2`, hold the same columns)."""
    if not table.startswith(RATING_AGGREGATE_PREFIX):
        raise ValueError(f"a rating aggregate's table name starts with {RATING_AGGREGATE_PREFIX}")
    return TableSpec(
        name=table,
        folder=folder,
        storage=StorageFormat.PARQUET,
        columns=(
            # DOUBLE, as the ratings table declares it: a fractional id stays itself.
            Column("movie_id", "double", "movieId"),
            Column("rating_sum", "decimal(38,6)", "exact sum of the ratings from 0.5 to 5.0"),
            Column("rated", "bigint", "number of ratings from 0.5 to 5.0"),
            Column("ratings", "bigint", "number of rows, out-of-range and unreadable included"),
        ),
        file_suffix="",
        comment="per-movie sums and counts of one ratings file (genre-assets rating aggregate)",
    )
