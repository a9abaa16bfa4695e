"""The Athena engine against the emulator's Athena (queries really run): logged state
transitions, Athena's failure reason, StopQueryExecution when the wait is interrupted, a
ClientRequestToken stable across retries, and Athena's result CSV turned into the contract's
TSV bytes (presto-cli's escaping)."""

from __future__ import annotations

import time

import boto3
import pytest
from dagster_aws.s3 import S3Resource

from genre_assets.domain.schema import MOVIES
from genre_assets.domain.targets import genre_targets
from genre_assets.domain.tsv import TSV_HEADER
from genre_assets.errors import EngineError
from genre_assets.resources.aws import athena_engine
from genre_assets.resources.aws.athena_engine import (
    AthenaEngineResource,
    QueryOutcome,
    client_request_token,
    exports_from_athena_csv,
    parse_athena_csv,
    split_hive_statements,
    without_terminator,
)
from genre_assets.resources.aws.clients import AwsClientsResource
from genre_assets.resources.aws.glue_catalog import GlueCatalogResource
from genre_assets.resources.aws.s3_lake import S3LakeResource
from genre_assets_emulator.tsv_printer import format_row
from genre_assets_tests.support.aws import emulated_aws

BUCKET = "athena-lake"
LAKE = f"s3://{BUCKET}/lake"


class RecordingLog:
    """What the engine logs, in order (a DagsterLogManager stand-in)."""

    def __init__(self, step_key: str = "genre_film_export") -> None:
        self.lines: list[str] = []
        self.metadata = {"step_key": step_key}

    def info(self, message: str) -> None:
        self.lines.append(message)

    warning = info


@pytest.fixture
def athena(monkeypatch, tmp_path):
    with emulated_aws(monkeypatch, tmp_path, start_seconds=0.2, lake=LAKE, iam_policy=None) as aws:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield aws


def engine(run_id: str = "run-1", **config) -> AthenaEngineResource:
    aws = AwsClientsResource(region_name="us-east-1")
    lake = S3LakeResource(uri_root=LAKE, s3=S3Resource(region_name="us-east-1"))
    resource = AthenaEngineResource(
        lake=lake, catalog=GlueCatalogResource(aws=aws), aws=aws, max_poll_seconds=0.2, **config
    )
    resource._run_id = run_id
    return resource


# -- the result file -> the contract's bytes ------------------------------------------------------
def test_athena_csv_quoting_doubled_quotes_null_and_newlines_are_read_as_athena_writes_them():
    data = b'"a","b","c"\n"x ""y""","",\n"multi\nline","\\\\",\n'
    assert list(parse_athena_csv(data)) == [
        ["a", "b", "c"],
        ['x "y"', "", None],
        ["multi\nline", "\\\\", None],
    ]
    with pytest.raises(EngineError, match="newline"):
        list(parse_athena_csv(b'"a","b"'))
    with pytest.raises(EngineError, match="quoted"):
        list(parse_athena_csv(b'"a\n'))


def test_the_result_csv_becomes_the_bytes_presto_cli_prints_with_the_export_header():
    targets = genre_targets(["(no genres listed)", "Children's", "Drama"])
    rows = [
        ["children_s", "1", "7", 'Kid\'s "Big" Day', "1999", "3.5000", "2"],
        ["children_s", "2", "8", "Back\\slash\tand tab", "", "4.0000", "1"],
        ["no_genres_listed", "1", "9", "Amélie 臥虎藏龍\nnewline", None, "2.2500", "4"],
    ]

    def csv_value(value: str | None) -> str:
        return "" if value is None else '"' + value.replace('"', '""') + '"'

    header = '"slug","position","movie_id","title","year","avg_rating","rating_count"\n'
    data = (header + "".join(",".join(map(csv_value, r)) + "\n" for r in rows)).encode()
    files = exports_from_athena_csv(data, [t.slug for t in targets])
    # presto-cli's TSV of the same values (NULL prints empty), after the EMR step's header.
    for target in targets:
        expected = (
            TSV_HEADER + "\n" + "".join(format_row(r[2:]) for r in rows if r[0] == target.slug)
        )
        assert files[target.slug] == expected.encode("utf-8"), target.name
    assert files["drama"] == (TSV_HEADER + "\n").encode()
    assert b"Back\\\\slash\\tand tab" in files["children_s"]
    with pytest.raises(EngineError, match="did not ask for"):
        exports_from_athena_csv(
            (header + '"comedy","1","1","t","","1.0000","1"\n').encode(), ["drama"]
        )


def test_one_statement_per_query_and_no_terminator():
    from genre_assets import rendering

    script = rendering.hive_create_table("movielens", MOVIES, f"{LAKE}/movielens/movies/")
    statements = split_hive_statements(script)
    assert [s.split()[0] for s in statements] == ["DROP", "CREATE"]
    assert not any(s.endswith(";") or "--" in s for s in statements)
    assert split_hive_statements("SELECT ';' AS a; SELECT 'b\\';' AS c;") == [
        "SELECT ';' AS a",
        "SELECT 'b\\';' AS c",
    ]
    assert without_terminator("SELECT 1;\n") == "SELECT 1"


def test_cost_is_athenas_billing_of_bytes_scanned():
    small = QueryOutcome("q", "id", "SUCCEEDED", 1000, 5, "DML", "")
    assert small.billed_bytes == 10 * 1024**2  # the 10 MB minimum
    big = QueryOutcome("q", "id", "SUCCEEDED", 30 * 1024**2 + 1, 5, "DML", "")
    assert big.billed_bytes == 31 * 1024**2  # rounded up to the MB
    assert QueryOutcome("q", "id", "SUCCEEDED", 10**9, 5, "DDL", "").billed_bytes == 0
    assert QueryOutcome("q", "id", "FAILED", 10**9, 5, "DML", "").billed_bytes == 0


# -- against the emulator -------------------------------------------------------------------------
def test_each_state_transition_is_logged_and_the_metadata_reports_the_query(athena):
    log = RecordingLog()
    resource = engine()
    resource.create_database(log)
    outcome = resource._run_query(log, "probe", "SELECT 1 AS one", "movielens")
    transitions = [line for line in log.lines if "->" in line and outcome.query_id in line]
    assert [t.rsplit(": ", 1)[1] for t in transitions][-1].endswith("SUCCEEDED")
    assert any("submitted -> " in t for t in transitions)
    metadata = resource.cost_metadata()
    assert metadata["athena_query_id"] == outcome.query_id
    assert outcome.query_id in metadata["athena_console_url"].url
    assert metadata["athena_estimated_cost_usd"] == pytest.approx(10 / 1024**2 * 5, rel=1e-3)
    assert len(metadata["athena_queries"]) == 2  # the CREATE DATABASE and the probe
    result = (
        boto3.client("s3")
        .get_object(Bucket=BUCKET, Key=f"lake/athena-results/{outcome.query_id}.csv")["Body"]
        .read()
    )
    assert result == b'"one"\n"1"\n'


def test_a_failed_query_raises_athenas_reason(athena):
    resource = engine()
    resource.create_database(RecordingLog())
    with pytest.raises(EngineError, match=r"FAILED: .*movielens\.nope.*does not exist"):
        resource._run_query(RecordingLog(), "bad", "SELECT * FROM nope", "movielens")
    # A query that ran counts in the run's metadata even when it failed (free) or was cancelled.
    assert resource.cost_metadata()["athena_queries"][-1].startswith("bad: ")
    assert resource.cost_metadata()["athena_queries"][-1].endswith(" (FAILED)")


def test_an_interrupted_wait_stops_the_query(athena, monkeypatch):
    resource = engine()
    resource.create_database(RecordingLog())
    athena.athena.hold_seconds = 30
    log = RecordingLog()

    def interrupt(_seconds):
        if any("-> RUNNING" in line for line in log.lines):
            raise KeyboardInterrupt  # as Dagster interrupts a step being cancelled

    monkeypatch.setattr(athena_engine, "_sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        resource._run_query(log, "held", "SELECT 2 AS two", "movielens")
    (stopped,) = athena.athena.stop_requests()
    (held,) = [e for e in athena.athena.executions() if e["QueryExecutionId"] == stopped]
    assert held["Status"]["State"] == "CANCELLED"
    assert any(f"Stopped Athena query {stopped}" in line for line in log.lines)


def test_a_retry_reattaches_to_the_query_of_its_token_and_a_failed_one_starts_afresh(athena):
    first, retry = engine("run-7"), engine("run-7")
    first.create_database(RecordingLog())
    one = first._run_query(RecordingLog(), "probe", "SELECT 3 AS three", "movielens")
    again = retry._run_query(RecordingLog(), "probe", "SELECT 3 AS three", "movielens")
    assert again.query_id == one.query_id  # the same token: the same query, not a second run
    assert engine("run-8")._run_query(
        RecordingLog(), "probe", "SELECT 3 AS three", "movielens"
    ).query_id != (one.query_id)
    assert client_request_token("r", "s", "p", "q") == client_request_token("r", "s", "p", "q")
    assert 32 <= len(client_request_token("r", "s", "p", "q")) <= 128
    # A query of this token that FAILED earlier is not the retry's answer: it starts afresh.
    with pytest.raises(EngineError):
        first._run_query(RecordingLog(), "flaky", "SELECT * FROM missing_table", "movielens")
    # Athena's clock (the answers' Date, whole seconds) must show the failure as over 2 s old.
    time.sleep(3)
    boto3.client("glue").create_table(
        DatabaseName="movielens",
        TableInput={
            "Name": "missing_table",
            "StorageDescriptor": {
                "Columns": [{"Name": "a", "Type": "string"}],
                "Location": f"{LAKE}/missing/",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
                },
            },
        },
    )
    log = RecordingLog()
    fresh = retry._run_query(log, "flaky", "SELECT * FROM missing_table", "movielens")
    assert fresh.state == "SUCCEEDED"
    assert any("starting the query afresh" in line for line in log.lines)


def test_the_columnar_cache_says_it_keeps_none():
    metadata = engine().build_columnar_cache(RecordingLog())
    assert metadata == {"columnar_cache": "none: the Athena engine keeps no columnar cache"}


def test_the_aws_deployment_picks_its_engine_and_refuses_an_unknown_one(monkeypatch):
    from genre_assets.definitions import build_definitions
    from genre_assets.deployments import resources_for
    from genre_assets.errors import ConfigurationError
    from genre_assets.resources.aws.emr_engine import EMREngineResource

    monkeypatch.delenv("GENRE_ASSETS_AWS_ENGINE", raising=False)
    assert isinstance(resources_for("aws")["engine"], EMREngineResource)
    monkeypatch.setenv("GENRE_ASSETS_AWS_ENGINE", "athena")
    monkeypatch.setenv("GENRE_ASSETS_ATHENA_WORKGROUP", "analytics")
    assert isinstance(resources_for("aws")["engine"], AthenaEngineResource)
    definitions = build_definitions("aws")
    # Athena starts no cluster: no EMR janitor.
    assert "emr_janitor" not in {s.name for s in definitions.sensors or []}
    monkeypatch.setenv("GENRE_ASSETS_AWS_ENGINE", "lambda")
    with pytest.raises(
        ConfigurationError,
        match=r"GENRE_ASSETS_AWS_ENGINE='lambda' is not allowed: choose one of emr, athena",
    ):
        resources_for("aws")


def test_a_query_that_fails_at_once_is_never_taken_for_an_earlier_attempts(athena, monkeypatch):
    """The engine judges "ended before I asked" by Athena's clock, not this host's: a host
    running an hour ahead once re-started every quickly failing query five times and then
    hid Athena's reason."""
    resource = engine("run-skew")
    resource.create_database(RecordingLog())
    real = time.time
    monkeypatch.setattr(athena_engine.time, "time", lambda: real() + 3600)
    log = RecordingLog()
    with pytest.raises(EngineError, match=r"FAILED: .*missing_table.*does not exist"):
        resource._run_query(log, "fails at once", "SELECT * FROM missing_table", "movielens")
    started = [e for e in athena.athena.executions() if "missing_table" in e["Query"]]
    assert len(started) == 1
    assert not any("afresh" in line for line in log.lines)


def test_create_database_runs_outside_the_database_it_creates(athena):
    """A query's context database must exist: CREATE DATABASE runs in Athena's default one
    (the emulator fails any other query whose context database is missing)."""
    resource = engine()
    resource.create_database(RecordingLog())
    (created,) = [e for e in athena.athena.executions() if "CREATE DATABASE" in e["Query"]]
    assert created["QueryExecutionContext"]["Database"] == "default"  # none was given
    with pytest.raises(EngineError, match="SCHEMA_NOT_FOUND: Schema 'absent' does not exist"):
        resource._run_query(RecordingLog(), "elsewhere", "SELECT 1 AS one", "absent")


def test_a_table_glue_holds_otherwise_than_its_ddl_said_fails_the_step(athena, monkeypatch):
    from genre_assets import rendering

    resource = engine()
    resource.create_database(RecordingLog())
    # Athena stores what it was sent; here it is sent another location than the engine expects.
    original = rendering.hive_create_table
    monkeypatch.setattr(
        rendering,
        "hive_create_table",
        lambda database, spec, location: original(database, spec, location + "elsewhere/"),
    )
    with pytest.raises(EngineError, match="succeeded but Glue does not hold the definition"):
        resource.create_source_table(RecordingLog(), MOVIES)
