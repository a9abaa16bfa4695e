"""A backfill of three genres through GraphQL, run by the real backfill daemon."""

from __future__ import annotations

import itertools
import time
from typing import Any

import duckdb
import pytest

from genre_assets_tests.e2e.stack import (
    BACKFILL_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    TIMINGS,
    DagsterStack,
    asset_paths,
    export_file,
    tags_of,
    wait_for_backfill,
)
from genre_assets_tests.reference import expected_tsv

pytestmark = pytest.mark.e2e

# Adjacent partitions (vocabulary order), with the slugs of the README's contract.
GENRES = {"Action": "action", "Adventure": "adventure", "Animation": "animation"}
# Three genres no two of which are neighbours in the vocabulary order.
APART = {"Comedy": "comedy", "Horror": "horror", "War": "war"}
GENRE_ASSETS = ["genre_film_export", "genre_film_table"]


def test_backfill_of_three_non_adjacent_genres_on_a_fresh_lake_selecting_only_genre_assets(
    dagster_stack,
):
    """What the README tells a new user to do: select partitions of the two genre assets and
    press Materialize, before anything else has run."""
    stack = dagster_stack
    assert not (stack.lake / "_catalog.duckdb").exists(), (
        "this test must meet a fresh lake: it is the first one collected in this package"
    )
    order = stack.partition_keys("genre_film_export")
    positions = sorted(order.index(g) for g in APART)
    assert all(b - a > 1 for a, b in itertools.pairwise(positions)), order

    started = time.monotonic()
    backfill_id = stack.launch_backfill(GENRE_ASSETS, list(APART))
    backfill = wait_for_backfill(stack, backfill_id, timeout=240)
    TIMINGS["fresh lake: backfill of 3 non-adjacent genres, genre assets only"] = (
        time.monotonic() - started
    )
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    runs = stack.runs({BACKFILL_TAG: backfill_id})
    assert runs and {r["status"] for r in runs} == {"SUCCESS"}, runs
    assert set().union(*(asset_paths(r) for r in runs)) == set(GENRE_ASSETS)
    for genre, slug in APART.items():
        expected = expected_tsv(stack.lake, genre).encode("utf-8")
        assert expected.count(b"\n") > 1, f"the sample lake has no rated {genre} film"
        assert export_file(stack.lake, slug).read_bytes() == expected, genre
    # The genre assets made the catalog they needed: database, source tables, genre tables.
    with duckdb.connect(str(stack.lake / "_catalog.duckdb"), read_only=True) as catalog:
        tables = {
            row[0]
            for row in catalog.execute(
                "select table_name from information_schema.tables where table_schema = 'movielens'"
            ).fetchall()
        }
    assert {"movies", "ratings", *(f"{slug}_films" for slug in APART.values())} <= tables


def launch_adjacent_backfill(
    stack: DagsterStack, genres: list[str]
) -> tuple[str, list[dict[str, Any]], float]:
    """Backfill the two genre assets for adjacent `genres` and wait for it to complete: the
    backfill's id, its runs and the seconds from launch to completion."""
    order = stack.partition_keys("genre_film_export")
    first = order.index(genres[0])
    assert order[first : first + len(genres)] == genres, f"not adjacent partitions: {order}"

    # Only the two partitioned assets, as in the fresh-lake test. (Dagster 1.13 also accepts
    # all five assets in one backfill: it then makes one run for the three unpartitioned ones
    # and one for the genres, and the daemon needs a third 30-second pass.)
    started = time.monotonic()
    backfill_id = stack.launch_backfill(GENRE_ASSETS, genres)

    wait_for_backfill(stack, backfill_id, timeout=180)
    elapsed = time.monotonic() - started
    return backfill_id, stack.runs({BACKFILL_TAG: backfill_id}), elapsed


def assert_one_run_wrote_the_contract_tsvs(
    stack: DagsterStack, genres: dict[str, str], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    """The single-run policy held for the adjacent `genres` ({genre: slug}): one run covered
    the range, recorded one materialisation per genre and wrote the contract's TSVs; that run."""
    names = list(genres)
    assert len(runs) == 1, f"adjacent genres must be one run (single-run policy): {runs}"
    (run,) = runs
    assert run["status"] == "SUCCESS"
    tags = tags_of(run)
    assert (tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)) == (names[0], names[-1]), tags
    assert asset_paths(run) == set(GENRE_ASSETS)

    # Both assets recorded exactly one materialisation per genre, all by that one run.
    for asset in GENRE_ASSETS:
        events = stack.materializations(asset, names)
        assert sorted(e["partition"] for e in events) == sorted(names), (asset, events)
        assert {e["runId"] for e in events} == {run["runId"]}, (asset, events)

    for genre, slug in genres.items():
        expected = expected_tsv(stack.lake, genre).encode("utf-8")
        assert expected.count(b"\n") > 1, f"the sample lake has no rated {genre} film"
        assert export_file(stack.lake, slug).read_bytes() == expected, genre
    return run


def test_backfill_of_three_adjacent_genres_is_one_run_writing_the_contract_tsvs(
    dagster_stack, record_property
):
    stack = dagster_stack
    backfill_id, runs, elapsed = launch_adjacent_backfill(stack, list(GENRES))
    TIMINGS[f"backfill of 3 genres, {len(runs)} run(s): launch -> completed"] = elapsed
    record_property("backfill_seconds", round(elapsed, 1))
    record_property("backfill_runs", len(runs))
    print(f"\nbackfill {backfill_id}: {len(runs)} run(s), launch -> completion {elapsed:.1f} s")
    assert_one_run_wrote_the_contract_tsvs(stack, GENRES, runs)
