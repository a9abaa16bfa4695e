"""Every rendered script parses in its own dialect, and values reach SQL only as exact literals."""

import jinja2
import pytest
import sqlglot
from sqlglot import exp

from genre_assets import rendering
from genre_assets.domain.genres import MOVIELENS_GENRES
from genre_assets.domain.schema import SOURCE_TABLES
from genre_assets.domain.targets import genre_targets
from genre_assets.errors import InputError

HOSTILE = ["Children's", "Comedy'; DROP TABLE movies; --", 'Say "hi"', "back\\slash", "50% _x_"]


def _parse(sql: str, dialect: str) -> list[exp.Expression]:
    statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    assert statements, "nothing parsed"
    return statements


def _string_literals(tree: exp.Expression) -> set[str]:
    return {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}


def test_hive_database_script_parses():
    (statement,) = _parse(
        rendering.hive_create_database("movielens", "s3://lake/data/warehouse/movielens.db/"),
        "hive",
    )
    assert isinstance(statement, exp.Create) and statement.kind == "DATABASE"


@pytest.mark.parametrize("table", SOURCE_TABLES, ids=lambda t: t.name)
def test_hive_source_table_scripts_parse(table):
    drop, create = _parse(
        rendering.hive_create_table("movielens", table, "s3://lake/data/" + table.folder), "hive"
    )
    assert isinstance(drop, exp.Drop)
    assert isinstance(create, exp.Create)
    columns = [c.name for c in create.find_all(exp.ColumnDef)]
    assert columns == table.column_names
    text = create.sql("hive")
    assert "EXTERNAL" in text and "skip.header.line.count" in text


def test_ratings_are_double_and_movies_use_the_csv_serde():
    ratings = rendering.hive_create_table("movielens", SOURCE_TABLES[1], "s3://b/r/")
    movies = rendering.hive_create_table("movielens", SOURCE_TABLES[0], "s3://b/m/")
    assert "rating DOUBLE" in ratings
    assert "OpenCSVSerde" in movies


@pytest.mark.parametrize("genre", [*MOVIELENS_GENRES, *HOSTILE])
def test_genre_table_script_parses_with_exact_location(genre):
    (target,) = genre_targets([genre])
    location = f"s3://lake/x'y/{target.export_folder}"
    _drop, create = _parse(
        rendering.hive_create_table("movielens", target.table_spec(), location), "hive"
    )
    assert location in _string_literals(create)
    assert create.find(exp.Table).name == target.table


def test_identifiers_starting_with_a_digit_are_quoted_per_dialect():
    assert rendering.identifier("3d_films", "hive") == "`3d_films`"
    assert rendering.identifier("3d_films", "duckdb") == '"3d_films"'
    assert rendering.identifier("drama_films", "presto") == "drama_films"


def test_presto_query_parses_and_carries_every_genre_exactly():
    targets = genre_targets([*MOVIELENS_GENRES, *HOSTILE])
    (query,) = _parse(rendering.presto_genre_query("movielens", targets), "presto")
    literals = _string_literals(query)
    for target in targets:
        assert target.name in literals and target.slug in literals
    # An injected statement would have parsed as a second statement or a DROP node.
    assert query.find(exp.Drop) is None


def test_transpiled_query_parses_as_duckdb():
    targets = genre_targets(["Comedy", *HOSTILE])
    sql = rendering.local_genre_export_sql("movielens", targets)
    (statement,) = _parse(sql, "duckdb")
    assert {t.name for t in targets} <= _string_literals(statement)


@pytest.mark.parametrize("bad", ["Movielens", "db-name", "db; drop", "", "a" * 129, 'x"y'])
def test_bad_database_names_never_render(bad):
    with pytest.raises(InputError):
        rendering.hive_create_database(bad, "s3://b/w/")
    with pytest.raises(InputError):
        rendering.presto_genre_query(bad, genre_targets(["Comedy"]))


def test_templates_refuse_missing_values():
    with pytest.raises(jinja2.UndefinedError):
        rendering.render("hive/create_table.hql.j2", database="movielens")


@pytest.mark.parametrize("dialect", ["hive", "presto", "duckdb"])
@pytest.mark.parametrize("value", HOSTILE + ["it's", "\\'", "''", "é\u2013"])
def test_string_literals_read_back_exactly(dialect, value):
    literal = rendering.string_literal(value, dialect)
    parsed = sqlglot.parse_one(f"SELECT {literal}", read=dialect)
    assert parsed.find(exp.Literal).this == value


@pytest.mark.parametrize("dialect", ["presto", "duckdb"])
def test_string_literal_rejects_nul_where_the_dialect_cannot_write_it(dialect):
    with pytest.raises(InputError):
        rendering.string_literal("a\x00b", dialect)


def test_hive_writes_nul_as_backslash_zero_and_reads_it_back():
    literal = rendering.string_literal("a\x00b", "hive")
    assert literal == "'a\\0b'"
    assert sqlglot.parse_one(f"SELECT {literal}", read="hive").expressions[0].this == "a\x00b"


def test_duckdb_literals_run_in_duckdb():
    import duckdb

    for value in HOSTILE:
        literal = rendering.string_literal(value, "duckdb")
        assert duckdb.connect().execute(f"SELECT {literal}").fetchone()[0] == value


def test_a_rating_aggregate_is_a_hive_parquet_table_filled_by_a_presto_insert_of_one_file():
    from genre_assets.domain.schema import RATINGS, rating_aggregate_spec

    spec = rating_aggregate_spec("rating_agg_0123abcd", "_cache/rating_aggregates/0123/run/")
    location = "s3://lake/it's/_cache/rating_aggregates/0123/run/"
    (drop, create) = _parse(rendering.hive_create_table("movielens", spec, location), "hive")
    assert isinstance(create, exp.Create) and location in _string_literals(create)
    assert "ParquetHiveSerDe" in create.sql("hive")
    # The local entries' columns; ids as DOUBLE, as the ratings table declares them.
    assert [(c.name, c.args["kind"].sql("hive")) for c in create.this.expressions] == [
        ("movie_id", "DOUBLE"),
        ("rating_sum", "DECIMAL(38, 6)"),
        ("rated", "BIGINT"),
        ("ratings", "BIGINT"),
    ]
    source = "s3://lake/it's/movielens/ratings/ratings 2.csv"
    (insert,) = _parse(
        rendering.presto_fill_rating_aggregate("movielens", spec, RATINGS, source), "presto"
    )
    assert isinstance(insert, exp.Insert) and insert.this.name == spec.name
    assert [c.alias_or_name for c in insert.expression.expressions] == [
        "movie_id",
        "rating_sum",
        "rated",
        "ratings",
    ]
    assert insert.expression.find(exp.Table).name == "ratings"
    # One file, by the Hive connector's hidden column: a literal the connector can prune with.
    where = insert.expression.args["where"].this
    assert isinstance(where, exp.EQ) and where.this.name == "$path"
    assert where.expression.is_string and where.expression.name == source
    (drop_stale,) = _parse(rendering.hive_drop_table("movielens", spec.name), "hive")
    assert isinstance(drop_stale, exp.Drop) and drop_stale.find(exp.Table).name == spec.name
    (query,) = _parse(
        rendering.presto_genre_query(
            "movielens", genre_targets(["Drama"]), aggregate_tables=[spec.name, "rating_agg_2"]
        ),
        "presto",
    )
    tables = {t.name for t in query.find_all(exp.Table)}
    assert {spec.name, "rating_agg_2"} <= tables and "ratings" not in tables
    assert query.find(exp.Union) is not None


def test_only_text_tables_declare_header_lines():
    """Newer PrestoDB refuses `skip.header.line.count` on anything but CSV and text tables
    (docs/aws-fidelity.md): the Parquet rating aggregates have no header and declare none."""
    from genre_assets.domain.schema import MOVIES, rating_aggregate_spec

    csv = rendering.hive_create_table("movielens", MOVIES, "s3://lake/movielens/movies/")
    assert "TBLPROPERTIES ('skip.header.line.count' = '1');" in csv
    spec = rating_aggregate_spec("rating_agg_0123456789abcdef01234567", "_cache/x/")
    parquet = rendering.hive_create_table("movielens", spec, "s3://lake/_cache/x/")
    assert "skip.header.line.count" not in parquet and "TBLPROPERTIES" not in parquet
    assert parquet.rstrip().endswith(";") and "INPUTFORMAT" in parquet
