"""A backfill of three genres through GraphQL, run by the real backfill daemon."""

from __future__ import annotations

import time

import pytest

from genre_assets_tests.e2e.stack import (
    BACKFILL_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    TIMINGS,
    asset_paths,
    export_file,
    tags_of,
    wait_for_backfill,
)
from genre_assets_tests.reference import expected_tsv

pytestmark = pytest.mark.e2e

# Adjacent partitions (vocabulary order), with the slugs of the README's contract.
GENRES = {"Action": "action", "Adventure": "adventure", "Animation": "animation"}
GENRE_ASSETS = ["genre_film_export", "genre_film_table"]


def test_backfill_of_three_adjacent_genres_is_one_run_writing_the_contract_tsvs(
    dagster_stack, record_property
):
    stack = dagster_stack
    genres = list(GENRES)
    order = stack.partition_keys("genre_film_export")
    first = order.index(genres[0])
    assert order[first : first + len(genres)] == genres, f"not adjacent partitions: {order}"

    # The source tables were materialised by the fixture, so the backfill holds only the two
    # partitioned assets. (Dagster 1.13 also accepts all five assets in one backfill: it then
    # makes one run for the three unpartitioned ones and one for the genres, and the daemon
    # needs a third 30-second pass.)
    started = time.monotonic()
    backfill_id = stack.launch_backfill(GENRE_ASSETS, genres)

    wait_for_backfill(stack, backfill_id, timeout=180)
    elapsed = time.monotonic() - started
    runs = stack.runs({BACKFILL_TAG: backfill_id})
    TIMINGS[f"backfill of 3 genres, {len(runs)} run(s): launch -> completed"] = elapsed
    record_property("backfill_seconds", round(elapsed, 1))
    record_property("backfill_runs", len(runs))
    print(f"\nbackfill {backfill_id}: {len(runs)} run(s), launch -> completion {elapsed:.1f} s")
    assert len(runs) == 1, f"adjacent genres must be one run (single-run policy): {runs}"
    (run,) = runs
    assert run["status"] == "SUCCESS"
    tags = tags_of(run)
    assert (tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)) == (genres[0], genres[-1]), tags
    assert asset_paths(run) == set(GENRE_ASSETS)

    # Both assets recorded exactly one materialisation per genre, all by that one run.
    for asset in GENRE_ASSETS:
        events = stack.materializations(asset, genres)
        assert sorted(e["partition"] for e in events) == sorted(genres), (asset, events)
        assert {e["runId"] for e in events} == {run["runId"]}, (asset, events)

    for genre, slug in GENRES.items():
        expected = expected_tsv(stack.lake, genre).encode("utf-8")
        assert expected.count(b"\n") > 1, f"the sample lake has no rated {genre} film"
        assert export_file(stack.lake, slug).read_bytes() == expected, genre
