"""The Athena engine under the real webserver and daemon, against `genre-assets emulate-aws`
holding the pipeline to deploy/iam-policy-athena.json: cancelling a run from the UI (the
webserver's `terminateRun` mutation, which the run page's Terminate button sends) stops its
Athena query, which ends CANCELLED."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genre_assets_tests.e2e.aws_stack import athena_client
from genre_assets_tests.e2e.aws_stack import aws_stack as running_aws_stack
from genre_assets_tests.e2e.stack import TIMINGS
from genre_assets_tests.support.local import REPO_ROOT

pytestmark = pytest.mark.e2e

ATHENA_POLICY = REPO_ROOT / "deploy" / "iam-policy-athena.json"
GENRE_ASSETS = ["genre_film_export", "genre_film_table"]
PARTITION_TAG = "dagster/partition"
TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { runId } }
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}
"""


def test_cancelling_an_athena_run_from_the_ui_stops_its_query(tmp_path: Path, e2e_lake: Path):
    started = time.monotonic()
    with running_aws_stack(
        tmp_path,
        e2e_lake,
        extra_env={"GENRE_ASSETS_AWS_ENGINE": "athena"},
        iam_policy=ATHENA_POLICY,
        # The genre query (not the DDL) stays RUNNING until it is stopped.
        emulator_env={"GENRE_ASSETS_EMULATOR_ATHENA_HOLD_SECONDS": "300"},
    ) as (stack, _s3, _emr, _glue):
        athena = athena_client(stack.env)
        run_id = stack.launch_run(asset_selection=GENRE_ASSETS, tags={PARTITION_TAG: "Drama"})

        def running_genre_query() -> dict | None:
            for query_id in athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]:
                execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
                if execution["StatementType"] == "DML" and execution["Status"]["State"] == (
                    "RUNNING"
                ):
                    return execution
            return None

        held = stack.wait_for("the genre query to be RUNNING", running_genre_query, timeout=120)
        answer = stack.gql(TERMINATE, {"runId": run_id})["terminateRun"]
        assert answer["__typename"] == "TerminateRunSuccess", answer

        def run_ended() -> dict | None:
            run = stack.run(run_id)
            return run if run["status"] in ("CANCELED", "FAILURE", "SUCCESS") else None

        run = stack.wait_for("the run to end", run_ended, timeout=120)
        assert run["status"] == "CANCELED"
        query_id = held["QueryExecutionId"]
        stopped = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        # Only StopQueryExecution ends a query CANCELLED in the emulator.
        assert stopped["Status"]["State"] == "CANCELLED", stopped["Status"]
        assert "cancelled by user" in stopped["Status"]["StateChangeReason"]
        log = (tmp_path / "emulator.log").read_text()
        assert "IAM denied" not in log, log
    TIMINGS["athena: stack start, launch, cancel, CANCELLED"] = time.monotonic() - started
