"""The catalog_check_sensor (off by default) through the real sensor daemon."""

from __future__ import annotations

import time

import pytest

from genre_assets_tests.e2e.stack import (
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    RESET_SENSOR,
    SENSOR,
    START_SENSOR,
    TIMINGS,
    DagsterStack,
    StackError,
    export_file,
    sensor_selector,
    tags_of,
)
from genre_assets_tests.reference import expected_tsv

pytestmark = pytest.mark.e2e

SENSOR_NAME = "catalog_check_sensor"
# A genre no other end-to-end test materialises, with its slug from the README's contract.
GENRE, SLUG = "Drama", "drama"
TICK_DONE = {"SUCCESS", "SKIPPED", "FAILURE"}


def _sensor(stack: DagsterStack) -> dict:
    return stack.gql(SENSOR, {"selector": sensor_selector(SENSOR_NAME)})["sensorOrError"]


def _next_tick(stack: DagsterStack, after: float, timeout: float) -> dict:
    """The first finished tick that started after `after` (a Unix time)."""

    def probe():
        ticks = [t for t in _sensor(stack)["sensorState"]["ticks"] if t["timestamp"] > after]
        first = min(ticks, key=lambda t: t["timestamp"], default=None)
        return first if first and first["status"] in TICK_DONE else None

    return stack.wait_for(f"a {SENSOR_NAME} tick after {after:.0f}", probe, timeout, interval=1)


def test_catalog_check_sensor_rebuilds_a_deleted_export(dagster_stack, record_property):
    stack = dagster_stack
    sensor = _sensor(stack)
    if sensor["__typename"] == "SensorNotFoundError":
        pytest.skip(f"{SENSOR_NAME} not available")
    assert sensor["__typename"] == "Sensor", sensor
    assert sensor["sensorState"]["status"] == "STOPPED", "the sensor must be off by default"
    interval = sensor["minIntervalSeconds"]

    # Materialise the genre once (the whole graph for it, as the CLI does).
    export = export_file(stack.lake, SLUG)
    stack.wait_run(stack.launch_run(tags={PARTITION_TAG: GENRE}))
    expected = expected_tsv(stack.lake, GENRE).encode("utf-8")
    assert expected.count(b"\n") > 1
    assert export.read_bytes() == expected

    selector = sensor_selector(SENSOR_NAME)
    started = time.time()
    try:
        result = stack.gql(START_SENSOR, {"selector": selector})["startSensor"]
        assert result["__typename"] == "Sensor", result
        assert result["sensorState"]["status"] == "RUNNING", result

        # Everything materialised so far is complete: the first tick must not request a run.
        first = _next_tick(stack, after=started, timeout=60)
        assert first["status"] == "SKIPPED" and not first["runIds"], first

        export.unlink()
        deleted = time.monotonic()
        # The next tick comes `interval` (30) seconds after the first and must ask for a run.
        tick = _next_tick(stack, after=first["timestamp"], timeout=interval + 60)
        if tick["status"] != "SUCCESS" or not tick["runIds"]:
            raise StackError(f"the tick after deleting {export} requested no run: {tick}")
        assert len(tick["runIds"]) == 1, tick
        run = stack.wait_run(tick["runIds"][0])
        tags = tags_of(run)
        assert tags.get("dagster/sensor_name") == SENSOR_NAME, tags
        # Only the deleted genre was stale, so the refresh covers exactly that genre.
        covered = tags.get(PARTITION_TAG) or (tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG))
        assert covered in (GENRE, (GENRE, GENRE)), tags

        assert export.read_bytes() == expected
        elapsed = time.monotonic() - deleted
        TIMINGS["sensor: export deleted -> re-created by the sensor's run"] = elapsed
        record_property("sensor_recreate_seconds", round(elapsed, 1))
        print(f"\n{SENSOR_NAME} re-created {export.name} {elapsed:.1f} s after it was deleted")
    finally:
        # Back to its default (stopped), so no later test sees it launching runs.
        reset = stack.gql(RESET_SENSOR, {"selector": selector})["resetSensor"]
        assert reset["__typename"] == "Sensor" and reset["sensorState"]["status"] == "STOPPED", (
            reset
        )
