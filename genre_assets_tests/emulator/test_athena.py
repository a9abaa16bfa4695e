"""The emulator's Athena API as a client sees it: one statement per query, ClientRequestToken
idempotency, QUEUED -> RUNNING -> SUCCEEDED/FAILED/CANCELLED with statistics, the result in
Athena's CSV at the output location, DDL applied to Glue (and refused with an SQL comment), and
Athena's reads and writes held to the caller's policy."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from genre_assets_emulator import iam
from genre_assets_tests.support.aws import emulated_aws

BUCKET = "athena-api"
OUTPUT = f"s3://{BUCKET}/results/"
TOKEN = "t" * 40


@pytest.fixture
def aws(monkeypatch, tmp_path):
    with emulated_aws(monkeypatch, tmp_path, start_seconds=0.2, iam_policy=None) as emulator:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield emulator


def pipeline_athena():
    # Not the harness's session: the pipeline's calls (held to a policy when one is set).
    return boto3.session.Session().client("athena")


def start(client, query: str, token: str | None = None, **extra) -> str:
    params = {
        "QueryString": query,
        "ResultConfiguration": {"OutputLocation": OUTPUT},
        "WorkGroup": "primary",
        **extra,
    }
    if token:
        params["ClientRequestToken"] = token
    return client.start_query_execution(**params)["QueryExecutionId"]


def wait(client, query_id: str, seconds: float = 20) -> tuple[dict, list[str]]:
    states: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if not states or states[-1] != state:
            states.append(state)
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return execution, states
        time.sleep(0.02)
    raise AssertionError(f"{query_id} still {states}")


def result(key: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_a_query_runs_and_writes_athenas_csv_with_statistics(aws):
    athena = boto3.client("athena")
    query_id = start(
        athena,
        """SELECT 'a "quoted" value' AS text, 'Amélie\\x' AS other, CAST(NULL AS VARCHAR) AS nothing, 7 AS n""",
    )
    execution, states = wait(athena, query_id)
    assert states[-1] == "SUCCEEDED"
    assert execution["StatementType"] == "DML"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{query_id}.csv"
    assert execution["Statistics"]["DataScannedInBytes"] == 0
    assert "EngineExecutionTimeInMillis" in execution["Statistics"]
    assert (
        result(f"results/{query_id}.csv")
        == ('"text","other","nothing","n"\n"a ""quoted"" value","Amélie\\x","","7"\n').encode()
    )


def test_more_than_one_statement_is_refused_at_once(aws):
    athena = boto3.client("athena")
    with pytest.raises(ClientError, match="Only one sql statement is allowed"):
        start(athena, "SELECT 1; SELECT 2")
    # A single statement with its terminator is one statement.
    wait(athena, start(athena, "SELECT 1;"))


def test_a_token_returns_its_query_and_refuses_another_query(aws):
    athena = boto3.client("athena")
    first = start(athena, "SELECT 1 AS a", TOKEN)
    assert start(athena, "SELECT 1 AS a", TOKEN) == first
    with pytest.raises(ClientError, match="Idempotent parameters do not match"):
        start(athena, "SELECT 2 AS a", TOKEN)
    assert len(aws.athena.executions()) == 1
    # botocore's model of the API (min 32 characters) refuses a short token before sending it.
    with pytest.raises(ParamValidationError, match="valid min length: 32"):
        start(athena, "SELECT 1", "short")


def test_an_unknown_workgroup_and_a_missing_output_location_are_refused(aws):
    athena = boto3.client("athena")
    with pytest.raises(ClientError, match="WorkGroup nope is not found"):
        start(athena, "SELECT 1", WorkGroup="nope")
    with pytest.raises(ClientError, match="No output location"):
        athena.start_query_execution(QueryString="SELECT 1")


def test_a_failing_query_is_failed_with_a_reason(aws):
    athena = boto3.client("athena")
    boto3.client("glue").create_database(DatabaseInput={"Name": "db"})
    execution, _ = wait(
        athena, start(athena, "SELECT * FROM nowhere", QueryExecutionContext={"Database": "db"})
    )
    assert execution["Status"]["State"] == "FAILED"
    assert "TABLE_NOT_FOUND" in execution["Status"]["StateChangeReason"]
    assert execution["Status"]["AthenaError"]["ErrorMessage"]


def test_a_stopped_query_is_cancelled_and_writes_no_result(aws):
    aws.athena.hold_seconds = 30
    athena = boto3.client("athena")
    query_id = start(athena, "SELECT 1 AS a")
    deadline = time.monotonic() + 5
    while (
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
        != "RUNNING"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    athena.stop_query_execution(QueryExecutionId=query_id)
    execution, _ = wait(athena, query_id)
    assert execution["Status"]["State"] == "CANCELLED"
    assert aws.athena.stop_requests() == [query_id]
    with pytest.raises(ClientError):
        result(f"results/{query_id}.csv")
    with pytest.raises(ClientError, match="was not found"):
        athena.get_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000")


def test_ddl_is_applied_to_glue_and_a_comment_fails_it(aws):
    athena = boto3.client("athena")
    created, _ = wait(
        athena, start(athena, f"CREATE DATABASE IF NOT EXISTS films LOCATION 's3://{BUCKET}/w/'")
    )
    assert created["Status"]["State"] == "SUCCEEDED" and created["StatementType"] == "DDL"
    assert created["ResultConfiguration"]["OutputLocation"].endswith(".txt")
    boto3.client("glue").get_database(Name="films")
    commented, _ = wait(athena, start(athena, "-- a note\nCREATE DATABASE other"))
    assert commented["Status"]["State"] == "FAILED"
    assert "ParseException" in commented["Status"]["StateChangeReason"]


def test_athena_reads_and_writes_with_the_callers_permissions(aws):
    # A policy that lets the pipeline run queries but not write their results.
    statements = [
        {
            "Sid": "Queries",
            "Effect": "Allow",
            "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution"],
            "Resource": "arn:aws:athena:us-east-1:123456789012:workgroup/primary",
        }
    ]
    aws.api.use_policy(statements)
    athena = pipeline_athena()
    execution, _ = wait(athena, start(athena, "SELECT 1 AS a"))
    assert execution["Status"]["State"] == "FAILED"
    assert "Access denied when writing output to url" in execution["Status"]["StateChangeReason"]
    assert [d.action for d in aws.api.denials()] == ["s3:GetBucketLocation"]
    with pytest.raises(ClientError, match="AccessDenied"):
        start(athena, "SELECT 1", WorkGroup="other")
    assert iam.query_workgroups[execution["QueryExecutionId"]] == "primary"
