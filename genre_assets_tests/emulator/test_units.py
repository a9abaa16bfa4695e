"""The AWS emulator's parts on their own: the Hive DDL applier against Glue, the Glue -> TableSpec
mapping, the presto-cli and trino-cli stand-ins' query path (and where Trino's Hive connector
differs from PrestoDB's) and their TSV printing (presto-cli's TsvPrinter)."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from genre_assets import rendering
from genre_assets.domain.schema import MOVIES, RATINGS, TableSpec, rating_aggregate_spec
from genre_assets.domain.targets import GenreTarget
from genre_assets.domain.tsv import unescape_field
from genre_assets.resources.aws import glue_tables
from genre_assets.resources.aws.glue_tables import TableShape
from genre_assets_emulator import hive, presto_cli
from genre_assets_emulator.middleware import s3_operation
from genre_assets_emulator.tsv_printer import format_row, format_value, java_double

REGION = "us-east-1"
DB = "movielens"
DB_LOCATION = "s3://lake/data/warehouse/movielens.db/"
SCI_FI = GenreTarget("Sci-Fi")
LOCATIONS = {
    "movies": "s3://lake/data/movielens/movies/",
    "ratings": "s3://lake/data/movielens/ratings/",
    SCI_FI.table: f"s3://lake/data/{SCI_FI.export_folder}",
}
SPECS = {"movies": MOVIES, "ratings": RATINGS, SCI_FI.table: SCI_FI.table_spec()}


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("glue", region_name=REGION), boto3.client("s3", region_name=REGION)


def _create_all(glue) -> None:
    hive.run_script(rendering.hive_create_database(DB, DB_LOCATION), glue)
    for name, spec in SPECS.items():
        hive.run_script(rendering.hive_create_table(DB, spec, LOCATIONS[name]), glue)


# -- the Hive applier ------------------------------------------------------------------------
def test_rendered_hive_scripts_become_glue_tables_the_engine_accepts(aws):
    glue, _ = aws
    _create_all(glue)
    database = glue.get_database(Name=DB)["Database"]
    assert database["Description"].startswith("MovieLens film tables")
    assert database["LocationUri"] == DB_LOCATION
    for name, spec in SPECS.items():
        table = glue.get_table(DatabaseName=DB, Name=name)["Table"]
        # What the engine checks before skipping a Hive step.
        assert glue_tables.matches(table, TableShape.of_spec(spec, LOCATIONS[name])), name
        # Every SerDe parameter of the schema, plus what Hive adds for a SERDE clause.
        recorded = dict(TableShape.of_glue(table).serde_parameters)
        assert recorded.items() >= spec.storage.storage.parameters.items(), name
        assert recorded.get("serialization.format") in ("1", ",", "\t"), name
        assert table["TableType"] == "EXTERNAL_TABLE"
        assert table["Parameters"]["EXTERNAL"] == "TRUE"
        assert table["Description"] == spec.comment
        columns = table["StorageDescriptor"]["Columns"]
        assert [c.get("Comment") for c in columns] == [c.comment for c in spec.columns]
    genre_types = [
        c["Type"]
        for c in glue.get_table(DatabaseName=DB, Name=SCI_FI.table)["Table"]["StorageDescriptor"][
            "Columns"
        ]
    ]
    assert genre_types == ["bigint", "string", "int", "decimal(10,4)", "bigint"]


def test_rerunning_a_table_script_replaces_the_definition(aws):
    glue, _ = aws
    _create_all(glue)
    moved = "s3://lake/elsewhere/ratings/"
    hive.run_script(rendering.hive_create_table(DB, RATINGS, moved), glue)
    table = glue.get_table(DatabaseName=DB, Name="ratings")["Table"]
    assert glue_tables.matches(table, TableShape.of_spec(RATINGS, moved))
    assert not glue_tables.matches(table, TableShape.of_spec(RATINGS, LOCATIONS["ratings"]))


def test_create_database_twice_needs_if_not_exists(aws):
    glue, _ = aws
    hive.run_script(rendering.hive_create_database(DB, DB_LOCATION), glue)
    hive.run_script(rendering.hive_create_database(DB, DB_LOCATION), glue)  # IF NOT EXISTS: fine
    with pytest.raises(hive.HiveError, match=f"Database {DB} already exists"):
        hive.run_script(f"CREATE DATABASE {DB};", glue)


def test_a_database_without_location_gets_the_clusters_hdfs_warehouse(aws):
    """What the original DDL did: the Glue database then points at the transient cluster."""
    glue, _ = aws
    hive.run_script("CREATE DATABASE IF NOT EXISTS films;", glue)
    location = glue.get_database(Name="films")["Database"]["LocationUri"]
    assert location.startswith("hdfs://") and location.endswith("/films.db")


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("CREATE EXTERNAL TABLE movielens.t (a STRING", r"ParseException line 1"),
        ("CREATE DATABASE 'unterminated;", r"ParseException Error tokenizing"),
        (
            rendering.hive_create_table(DB, MOVIES, "s3://x/m/"),
            r"statement 1 .*Database does not exist: movielens",
        ),
        ("SELECT 1;", r"unsupported statement SELECT"),
        ("MSCK REPAIR TABLE movielens.movies;", r"unsupported statement COMMAND"),
        ("-- only a comment\n", r"no statement"),
    ],
)
def test_bad_scripts_fail_with_a_reason(aws, script, reason):
    glue, _ = aws
    with pytest.raises(hive.HiveError, match=reason):
        hive.run_script(script, glue)


def test_unsupported_table_clauses_fail_and_change_nothing_before_them(aws):
    glue, _ = aws
    hive.run_script(rendering.hive_create_database(DB, DB_LOCATION), glue)
    with pytest.raises(hive.HiveError, match="STORED AS ORC is not emulated"):
        hive.run_script(
            "CREATE EXTERNAL TABLE movielens.p (a INT) STORED AS ORC LOCATION 's3://x/p/';",
            glue,
        )
    with pytest.raises(hive.HiveError, match="only EXTERNAL tables"):
        hive.run_script("CREATE TABLE movielens.m (a INT) LOCATION 's3://x/m/';", glue)
    with pytest.raises(hive.HiveError, match="needs a LOCATION"):
        hive.run_script("CREATE EXTERNAL TABLE movielens.n (a INT);", glue)
    with pytest.raises(hive.HiveError, match="Table not found movielens.gone"):
        hive.run_script("DROP TABLE movielens.gone;", glue)
    assert glue.get_tables(DatabaseName=DB)["TableList"] == []


# -- the presto-cli stand-in ----------------------------------------------------------------
def _put(s3, uri: str, text: str) -> None:
    bucket, key = uri[5:].split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))


def _query(glue, s3, tmp_path, sql: str) -> str:
    return presto_cli.run_query(
        sql, catalog="hive", schema=DB, output_format="TSV", glue=glue, s3=s3, workdir=tmp_path
    )


def test_presto_reads_every_visible_file_of_a_table_and_prints_tsv(aws, tmp_path):
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    _put(s3, LOCATIONS["ratings"] + "a.csv", "userId,movieId,rating,timestamp\n1,10,4.5,1\n")
    _put(s3, LOCATIONS["ratings"] + "b.csv", "userId,movieId,rating,timestamp\n2,10,3.0,2\n")
    # Hidden files (Hive and Presto skip them) and sub-folders are not read, even if they parse.
    _put(s3, LOCATIONS["ratings"] + "_SUCCESS", "userId,movieId,rating,timestamp\n9,10,5.0,9\n")
    _put(s3, LOCATIONS["ratings"] + ".hidden.csv", "userId,movieId,rating,timestamp\n9,10,5.0,9\n")
    _put(s3, LOCATIONS["ratings"] + "nested/c.csv", "userId,movieId,rating,timestamp\n3,10,1,3\n")
    out = _query(
        glue,
        s3,
        tmp_path,
        "SELECT movie_id, count(*), CAST(avg(rating) AS DECIMAL(10,4)), "
        "sum(rating) FROM ratings GROUP BY movie_id",
    )
    # movie_id is DOUBLE in the ratings table (whole-number columns), printed as Java prints it.
    assert out == "10.0\t2\t3.7500\t7.5\n"
    # Fully qualified names resolve too, and an empty location is an empty table.
    assert (
        _query(glue, s3, tmp_path / "2", f"SELECT count(*) FROM hive.{DB}.{SCI_FI.table}") == "0\n"
    )


def test_values_hive_cannot_parse_are_null_not_errors(aws, tmp_path):
    """Hive's lazy serdes read a value that does not parse as NULL (LazyDouble, LazyLong), so on
    EMR a bad rating vanishes from the averages instead of failing the query."""
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    _put(
        s3,
        LOCATIONS["ratings"] + "r.csv",
        "userId,movieId,rating,timestamp\n1,10,four,1\n2,10,4.0,2\n3,1.5,3.0,3\n",
    )
    out = _query(glue, s3, tmp_path, "SELECT movie_id, rating FROM ratings ORDER BY user_id")
    # 1.5 stays 1.5 (ids are DOUBLE on Hive too, so LazyLong never truncates it to film 1) and
    # the genre query, which joins on whole ids, leaves it out.
    assert out == "10.0\t\n10.0\t4.0\n1.5\t3.0\n"


def test_any_delimiter_is_read_but_a_serde_hive_serde_does_not_model_is_refused(aws, tmp_path):
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    hive.run_script(rendering.hive_create_database(DB, DB_LOCATION), glue)
    hive.run_script(
        "CREATE EXTERNAL TABLE movielens.p (a STRING, b BIGINT) ROW FORMAT DELIMITED FIELDS "
        "TERMINATED BY '|' LOCATION 's3://lake/p/' TBLPROPERTIES ('skip.header.line.count' = '1');"
        "CREATE EXTERNAL TABLE movielens.j (a STRING) ROW FORMAT SERDE "
        "'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://lake/j/';",
        glue,
    )
    _put(s3, "s3://lake/p/p.txt", "a|b\nx|1\ny|z\n")
    _put(s3, "s3://lake/j/j.json", '{"a": "x"}\n')
    assert _query(glue, s3, tmp_path / "p", "SELECT a, b FROM p ORDER BY a") == "x\t1\ny\t\n"
    with pytest.raises(presto_cli.QueryError, match="JsonSerDe' is not modelled"):
        _query(glue, s3, tmp_path / "j", "SELECT a FROM j")


def test_presto_query_errors_name_the_table(aws, tmp_path):
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    with pytest.raises(presto_cli.QueryError, match=r"Table hive\.movielens\.nope does not exist"):
        _query(glue, s3, tmp_path, "SELECT * FROM nope")


def test_the_genre_query_through_the_stand_in_matches_the_local_export_format(aws, tmp_path):
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    _put(
        s3,
        LOCATIONS["movies"] + "m.csv",
        'movieId,title,genres\n1,"Back\\slash, The (1999)",Sci-Fi\n',
    )
    _put(s3, LOCATIONS["ratings"] + "r.csv", "userId,movieId,rating,timestamp\n1,1,3.5,1\n")
    sql = rendering.presto_genre_query(DB, [SCI_FI])
    assert _query(glue, s3, tmp_path, sql) == "sci_fi\t1\t1\tBack\\\\slash, The\t1999\t3.5000\t1\n"


def test_presto_cli_command_exits_1_with_the_reason_on_stderr():
    done = _presto_cli("--execute", "SELECT missing_column")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "failed:" in done.stderr and "missing_column" in done.stderr
    ok = _presto_cli("--execute", "SELECT 'a' || chr(9) || 'b', NULL, 7")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "a\\tb\t\t7\n"


# -- TsvPrinter ----------------------------------------------------------------------------
def test_fields_are_escaped_like_presto_cli():
    row = ["tab\there", "new\nline", "back\\slash", "nul\0", "cr\r bs\b ff\f", "plain ü–", None]
    line = format_row(row)
    assert line == (
        "tab\\there\tnew\\nline\tback\\\\slash\tnul\\0\tcr\\r bs\\b ff\\f\tplain ü–\t\n"
    )
    # Hive's ESCAPED BY '\\' (and tsv.unescape_field) restores the backslash, LF and CR; the
    # printer's \t \0 \b \f come back as plain letters, which is why the genre query turns
    # control characters into spaces before they reach the printer.
    assert [unescape_field(f) for f in line[:-1].split("\t")[:6]] == [
        "tabthere",
        "new\nline",
        "back\\slash",
        "nul0",
        "cr\r bsb fff",
        "plain ü–",
    ]


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (Decimal("3.5000"), "3.5000"),
        (Decimal("0.0000"), "0.0000"),
        (Decimal("-0.5000"), "-0.5000"),
        (Decimal("1E-7"), "1E-7"),  # BigDecimal.toString goes scientific below 1E-6
        (42, "42"),
        (-7, "-7"),
        (True, "true"),
        (3.5, "3.5"),
        (100.0, "100.0"),
        (1e7, "1.0E7"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (-1.25e-5, "-1.25E-5"),
        (float("nan"), "NaN"),
        (-0.0, "-0.0"),
        (None, ""),
    ],
)
def test_values_print_as_java_prints_them(value, printed):
    assert format_value(value) == printed


def test_java_double_round_trips():
    for value in (0.1, 2 / 3, 123456.789, 9999999.999, 1.5e300, 5e-324):
        assert float(java_double(value).replace("E", "e")) == value


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation"),
    [
        ("GET", "/b", "list-type=2&prefix=x", {}, "ListObjectsV2"),
        ("PUT", "/b", "", {}, "CreateBucket"),
        ("PUT", "/b/k/x.tsv", "", {}, "PutObject"),
        ("PUT", "/b/k", "", {"x-amz-copy-source": "b/j"}, "CopyObject"),
        ("GET", "/b/k", "", {}, "GetObject"),
        ("HEAD", "/b/k", "", {}, "HeadObject"),
        ("POST", "/b/k", "uploads", {}, "CreateMultipartUpload"),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, "UploadPart"),
    ],
)
def test_the_request_log_names_s3_operations(method, path, query, headers, operation):
    assert s3_operation(method, path, query, headers) == operation


# -- presto-cli: statements, PrestoDB's Hive connector rules --------------------------------
@pytest.mark.parametrize(
    ("text", "complete", "partial"),
    [
        ("SELECT 1;", ["SELECT 1"], ""),
        ("SELECT 1", [], "SELECT 1"),  # --file: no terminator, nothing runs
        ("SELECT ';' AS a;\nSELECT 2", ["SELECT ';' AS a"], "SELECT 2"),
        ('SELECT 1 AS "a;b";', ['SELECT 1 AS "a;b"'], ""),
        (
            "-- a comment; not a terminator\nSELECT 1",
            [],
            "-- a comment; not a terminator\nSELECT 1",
        ),
        ("SELECT 1; /* ; */ -- trailing\n", ["SELECT 1"], "/* ; */ -- trailing"),
        ("SELECT 'it''s;';", ["SELECT 'it''s;'"], ""),
    ],
)
def test_statements_are_split_as_prestos_statement_splitter_does(text, complete, partial):
    assert presto_cli.split_statements(text) == (complete, partial)


def test_comment_only_rests_are_empty_statements():
    assert presto_cli.is_empty_statement("/* ; */ -- trailing")
    assert presto_cli.is_empty_statement("  \n")
    assert not presto_cli.is_empty_statement("-- c\nSELECT 1")


def _presto_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {**os.environ, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "genre_assets_emulator.presto_cli",
            "--catalog",
            "hive",
            "--schema",
            DB,
            "--output-format",
            "TSV",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
    )


def test_a_file_without_terminator_fails_like_presto_cli(tmp_path):
    """The defect every real EMR run had: the query file ended without ';'."""
    unterminated = tmp_path / "q.sql"
    unterminated.write_text("SELECT 1 AS x\n")
    done = _presto_cli("--file", str(unterminated))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == "Non-terminated statement: SELECT 1 AS x"
    # --execute appends the terminator itself; a terminated file runs every statement.
    assert _presto_cli("--execute", "SELECT 1").stdout == "1\n"
    terminated = tmp_path / "ok.sql"
    terminated.write_text("SELECT 1;\n-- done; really\nSELECT 2;\n")
    done = _presto_cli("--file", str(terminated))
    assert (done.returncode, done.stdout) == (0, "1\n2\n")


def test_every_presto_script_the_pipeline_renders_is_terminated():
    for sql in (
        rendering.presto_genre_query(DB, [SCI_FI]),
        rendering.presto_fill_rating_aggregate(
            DB, rating_aggregate_spec("rating_agg_c", "_cache/c/"), RATINGS, "s3://lake/r.csv"
        ),
    ):
        statements, partial = presto_cli.split_statements(sql)
        assert len(statements) == 1 and presto_cli.is_empty_statement(partial), sql


EXTERNAL_CTAS = (
    "CREATE TABLE c WITH (format = 'PARQUET', external_location = 's3://lake/c/') "
    "AS SELECT movie_id, rating FROM ratings"
)


def test_prestodb_refuses_ctas_with_an_external_location(aws, tmp_path):
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    with pytest.raises(
        presto_cli.QueryError, match="External tables cannot be created using CREATE TABLE AS"
    ):
        _query(glue, s3, tmp_path, EXTERNAL_CTAS)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        # Trino's defaults: creates enabled, writes not.
        ({}, "Writes to non-managed Hive tables is disabled"),
        (
            {
                "hive.non-managed-table-creates-enabled": "false",
                "hive.non-managed-table-writes-enabled": "true",
            },
            "Creating non-managed Hive tables is disabled",
        ),
        # Trino would run it; the pipeline never asks, so the emulator does not play it.
        ({"hive.non-managed-table-writes-enabled": "true"}, "allowed here but not emulated"),
    ],
)
def test_trino_allows_ctas_with_an_external_location_only_with_both_non_managed_properties(
    aws, tmp_path, properties, message
):
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    with pytest.raises(presto_cli.QueryError, match=message):
        presto_cli.run_query(
            EXTERNAL_CTAS,
            catalog="hive",
            schema=DB,
            output_format="TSV",
            glue=glue,
            s3=s3,
            workdir=tmp_path,
            hive_properties=properties,
            engine="trino",
        )


def _aggregate_table(glue) -> TableSpec:
    spec = rating_aggregate_spec("rating_agg_x", "_cache/rating_aggregates/x/run/")
    hive.run_script(
        rendering.hive_create_table(DB, spec, "s3://lake/data/_cache/rating_aggregates/x/run/"),
        glue,
    )
    return spec


@pytest.mark.parametrize("engine", ["presto", "trino"])
def test_insert_into_an_external_table_needs_non_managed_writes(aws, tmp_path, engine):
    """PrestoDB and Trino check the same property, by the same name, with the same message."""
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    _put(
        s3,
        LOCATIONS["ratings"] + "r.csv",
        "userId,movieId,rating,timestamp\n1,10,4.5,1\n2,11,3.0,2\n",
    )
    spec = _aggregate_table(glue)
    source = LOCATIONS["ratings"] + "r.csv"
    insert = rendering.presto_fill_rating_aggregate(DB, spec, RATINGS, source).rstrip().rstrip(";")
    with pytest.raises(presto_cli.QueryError, match="Cannot write to non-managed Hive table"):
        presto_cli.run_query(
            insert,
            catalog="hive",
            schema=DB,
            output_format="TSV",
            glue=glue,
            s3=s3,
            workdir=tmp_path / "denied",
            engine=engine,
        )
    assert "Contents" not in s3.list_objects_v2(Bucket="lake", Prefix="data/_cache/")
    presto_cli.run_query(
        insert,
        catalog="hive",
        schema=DB,
        output_format="TSV",
        glue=glue,
        s3=s3,
        workdir=tmp_path / "allowed",
        hive_properties={"hive.non-managed-table-writes-enabled": "true"},
        engine=engine,
    )
    assert _query(glue, s3, tmp_path / "read", f"SELECT * FROM {spec.name} ORDER BY movie_id") == (
        "10.0\t4.500000\t1\t1\n11.0\t3.000000\t1\t1\n"
    )


def _reads(log) -> list[tuple[str, str, int]]:
    return [(e["table"], e["uri"].rsplit("/", 1)[-1], e["bytes"]) for e in presto_cli.read_log(log)]


def test_a_path_predicate_reads_only_the_files_it_names_and_the_log_counts_their_bytes(
    aws, tmp_path
):
    """The Hive connector makes no split for a file a `"$path"` domain excludes (PrestoDB's and
    Trino's InternalHiveSplitFactory): the emulator never fetches it, and logs what it fetched."""
    glue, s3 = aws
    s3.create_bucket(Bucket="lake")
    _create_all(glue)
    a = "userId,movieId,rating,timestamp\n1,10,4.5,1\n"
    b = "userId,movieId,rating,timestamp\n2,10,3.0,2\n2,11,1.0,2\n"
    _put(s3, LOCATIONS["ratings"] + "a.csv", a)
    _put(s3, LOCATIONS["ratings"] + "b.csv", b)
    log = tmp_path / "reads.jsonl"

    def query(sql: str, name: str) -> str:
        return presto_cli.run_query(
            sql,
            catalog="hive",
            schema=DB,
            output_format="TSV",
            glue=glue,
            s3=s3,
            workdir=tmp_path / name,
            reads_log=log,
        )

    b_uri = LOCATIONS["ratings"] + "b.csv"
    assert query(
        f'SELECT count(*), "$path" FROM ratings WHERE "$path" = \'{b_uri}\' GROUP BY 2', "one"
    ) == (f"2\t{b_uri}\n")
    assert _reads(log) == [("movielens.ratings", "b.csv", len(b))]
    log.unlink()
    # IN with several files, a conjunct among others: still pruned.
    assert (
        query(
            f"SELECT count(*) FROM ratings WHERE rating > 0 AND \"$path\" IN ('{b_uri}', 's3://x/y')",
            "in",
        )
        == "2\n"
    )
    assert _reads(log) == [("movielens.ratings", "b.csv", len(b))]
    log.unlink()
    # A predicate the connector cannot turn into a path domain: every file is read, then filtered.
    assert query("SELECT count(*) FROM ratings WHERE \"$path\" LIKE '%b.csv'", "like") == "2\n"
    assert sorted(_reads(log)) == [
        ("movielens.ratings", "a.csv", len(a)),
        ("movielens.ratings", "b.csv", len(b)),
    ]
    log.unlink()
    # Without the column the table is as before; the log still counts what was read.
    assert query("SELECT * FROM ratings ORDER BY user_id, movie_id", "plain").startswith(
        "1.0\t10.0\t4.5"
    )
    assert len(_reads(log)) == 2


def test_the_reads_log_reaches_the_console_through_the_step_environment(tmp_path, monkeypatch):
    from genre_assets_emulator import steps

    monkeypatch.delenv(presto_cli.READS_LOG_ENV, raising=False)
    assert steps.reads_log_path(tmp_path / "bin") == tmp_path / "query-reads.jsonl"
    monkeypatch.setenv(presto_cli.READS_LOG_ENV, str(tmp_path / "mine.jsonl"))
    assert steps.reads_log_path(tmp_path / "bin") == tmp_path / "mine.jsonl"
