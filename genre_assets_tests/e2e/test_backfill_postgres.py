"""The adjacent-genre backfill of test_backfill.py on an instance kept in a real PostgreSQL server
(deploy/dagster-postgres.yaml), and that file kept in step with deploy/dagster.yaml.

The stack (conftest.postgres_stack) has a lake and a database of its own. What the webserver
reports is checked again in Postgres's own tables, and DAGSTER_HOME must hold no SQLite file, so
the test fails if any process fell back to the default storage.
"""

from __future__ import annotations

import functools
import json
import time

import pytest
import yaml

from genre_assets.checks.genre_tables import CHECK_SPECS_DOC
from genre_assets.partitions import GENRE_PARTITIONS_NAME
from genre_assets_tests.e2e import postgres
from genre_assets_tests.e2e.postgres import DAGSTER_ENV, PostgresServer, server_version
from genre_assets_tests.e2e.stack import (
    INSTANCE_YAML,
    POSTGRES_INSTANCE_YAML,
    SENSOR,
    TIMINGS,
    DagsterStack,
    StackError,
    sensor_selector,
)
from genre_assets_tests.e2e.test_backfill import (
    GENRE_ASSETS,
    GENRES,
    assert_one_run_wrote_the_contract_tsvs,
    launch_adjacent_backfill,
)

# The sensors that run by default in the local deployment: the seeder registers the genres
# (nothing else does on this instance), the observer records the raw folders' data versions.
SEEDER = "genre_partition_seeder"
OBSERVER = "raw_data_observer"


def test_postgres_instance_yaml_is_the_default_one_plus_postgres_storage():
    default_text = INSTANCE_YAML.read_text()
    postgres_text = POSTGRES_INSTANCE_YAML.read_text()
    # Line for line, comments included, after each file's own header comment.
    default_lines = default_text.splitlines()
    first_setting = next(i for i, line in enumerate(default_lines) if not line.startswith("#"))
    assert "\n".join(default_lines[first_setting:]) in postgres_text

    settings = yaml.safe_load(postgres_text)
    storage = settings.pop("storage")
    assert settings == yaml.safe_load(default_text)
    assert list(storage) == ["postgres"]
    database = storage["postgres"]["postgres_db"]
    from_env = {field: value["env"] for field, value in database.items() if "env" in value}
    assert from_env == DAGSTER_ENV, "the variables the tests (and the docs) set"
    # psycopg2 is the driver dagster-postgres installs; a bare `postgresql` means psycopg 3.
    assert database["scheme"] == "postgresql+psycopg2"


@pytest.fixture
def no_postgres(monkeypatch):
    monkeypatch.setattr(postgres, "server_binaries", lambda: None)


def test_missing_postgres_skips_outside_ci(no_postgres, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL server binaries"):
        postgres.require_postgres()


def test_missing_postgres_fails_when_ci_is_true(no_postgres, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        postgres.require_postgres()


def _finished_ticks(stack: DagsterStack, sensor: str) -> list[dict]:
    """The sensor's finished ticks, as the UI lists them; failing at once on a failed tick."""
    found = stack.gql(SENSOR, {"selector": sensor_selector(sensor)})["sensorOrError"]
    assert found["__typename"] == "Sensor", found
    assert found["sensorState"]["status"] == "RUNNING", f"{sensor} must run by default"
    ticks = found["sensorState"]["ticks"]
    if any(t["status"] == "FAILURE" for t in ticks):
        raise StackError(f"{sensor} failed: {ticks}\n{stack.log_tails()}")
    # A tick that only adds partitions or reports events requests no run: Dagster says SKIPPED.
    return [t for t in ticks if t["status"] in {"SUCCESS", "SKIPPED"}]


def _tick_bodies_in_postgres(server: PostgresServer) -> dict[str, list[dict]]:
    """{sensor name: its ticks' serialised data}, from the job_ticks table."""
    ticks: dict[str, list[dict]] = {}
    for (body,) in server.query("select tick_body from job_ticks order by id"):
        tick = json.loads(body)
        ticks.setdefault(tick["job_name"], []).append(tick)
    return ticks


@pytest.mark.e2e
def test_backfill_sensors_and_checks_on_a_postgres_instance(
    postgres_stack: DagsterStack, postgres_server: PostgresServer, record_property
):
    stack, server = postgres_stack, postgres_server
    genres = list(GENRES)

    # Sensors: the seeder's tick is what makes the genres partitions on this fresh instance.
    started = time.monotonic()
    stack.wait_for(
        f"{SEEDER} to register the genres",
        lambda: set(genres) <= set(stack.partition_keys("genre_film_export")),
        timeout=90,
    )
    TIMINGS["postgres: stack ready -> genres registered by the seeder sensor"] = (
        time.monotonic() - started
    )

    # Runs and backfills: the same scenario and assertions as on the default instance.
    backfill_id, runs, elapsed = launch_adjacent_backfill(stack, genres)
    TIMINGS[f"postgres: backfill of 3 genres, {len(runs)} run(s): launch -> completed"] = elapsed
    record_property("postgres_backfill_seconds", round(elapsed, 1))
    run = assert_one_run_wrote_the_contract_tsvs(stack, GENRES, runs)

    # Both default sensors ticked (the observer once a minute, first when the daemon started).
    for sensor in (SEEDER, OBSERVER):
        ticked = functools.partial(_finished_ticks, stack, sensor)
        stack.wait_for(f"a finished {sensor} tick", ticked, timeout=70)

    # The same facts in Postgres's own tables.
    assert dict(server.query("select run_id, status from runs")) == {run["runId"]: "SUCCESS"}
    assert server.query(
        "select status, backfill_id from runs where run_id = %s", (run["runId"],)
    ) == [("SUCCESS", backfill_id)]
    assert server.query("select key, status from bulk_actions") == [
        (backfill_id, "COMPLETED_SUCCESS")
    ]
    registered = server.query(
        "select partition from dynamic_partitions where partitions_def_name = %s order by id",
        (GENRE_PARTITIONS_NAME,),
    )
    assert [p for (p,) in registered if p in GENRES] == genres, registered
    ticks = _tick_bodies_in_postgres(server)
    added = [
        genre
        for tick in ticks.get(SEEDER, [])
        for result in tick["dynamic_partitions_request_results"]
        if result["partitions_def_name"] == GENRE_PARTITIONS_NAME
        for genre in result["added_partitions"] or []
    ]
    assert set(genres) <= set(added), ticks.get(SEEDER)
    assert ticks.get(OBSERVER), ticks
    # The observer's first tick recorded both raw folders' data versions: events of no run.
    observations = server.query(
        "select distinct asset_key from event_logs where dagster_event_type = %s and run_id = ''",
        ("ASSET_OBSERVATION",),
    )
    assert sorted(observations) == [('["raw_movies"]',), ('["raw_ratings"]',)], observations

    # Checks: one evaluation of each check per genre, by the backfill's run, all passed.
    executions = server.query(
        "select check_name, partition, execution_status, run_id from asset_check_executions "
        "where asset_key = %s",
        ('["genre_film_table"]',),
    )
    assert sorted((name, partition) for name, partition, _, _ in executions) == sorted(
        (name, genre) for name in CHECK_SPECS_DOC for genre in genres
    ), executions
    assert {(status, run_id) for _, _, status, run_id in executions} == {
        ("SUCCEEDED", run["runId"])
    }, executions
    materialized = server.query(
        "select asset_key, partition from event_logs where dagster_event_type = %s",
        ("ASSET_MATERIALIZATION",),
    )
    assert sorted(materialized) == sorted(
        (f'["{asset}"]', genre) for asset in GENRE_ASSETS for genre in genres
    ), materialized

    # Nothing went to the default storage: SQLite's runs.db, per-run event logs, schedules.db.
    assert not list(stack.home.rglob("*.db")), list(stack.home.rglob("*.db"))
    print(f"\nPostgreSQL {server_version(server)}: backfill {backfill_id} in {elapsed:.1f} s")
