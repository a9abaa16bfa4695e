"""A genre no movie has, added as a partition the way the UI's "Add partition" does.

A run for it fails before any export is written and says which genre was meant; a run that
allows it (the run tag) succeeds with a failed `non_empty` check, which the asset page shows for
that genre in plain text.
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import dagster as dg
import pytest

from genre_assets.assets.genre_films import ALLOW_MISSING_GENRE_TAG
from genre_assets_tests.e2e.stack import (
    LOCATION,
    PARTITION_TAG,
    REPOSITORY,
    RUN_DONE,
    TIMINGS,
    DagsterStack,
    StackError,
)
from genre_assets_tests.support.local import REPO_ROOT

pytestmark = pytest.mark.e2e

GENRE_ASSETS = ["genre_film_export", "genre_film_table"]
# Typos of Sci-Fi; each test adds its own, so they stay independent.
TYPO = "Scifi"
ALLOWED = "SciFy"
# Screenshots a person can look at after the run (gitignored).
ARTIFACTS = REPO_ROOT / "test-artifacts"

ADD_PARTITION = """
mutation($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename ... on PythonError { message } } }
"""


def _add_partition(stack: DagsterStack, key: str) -> None:
    repo = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    added = stack.gql(ADD_PARTITION, {"repo": repo, "name": "genre", "key": key})
    assert added["addDynamicPartition"]["__typename"] == "AddDynamicPartitionSuccess", added


def _finished(stack: DagsterStack, run_id: str, timeout: float = 120) -> dict:
    def done():
        run = stack.run(run_id)
        return run if run["status"] in RUN_DONE else None

    return stack.wait_for(f"run {run_id} to finish", done, timeout)


def _step_failures(stack: DagsterStack, run_id: str) -> dict[str, str]:
    with dg.DagsterInstance.from_config(str(stack.home)) as instance:
        records = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    failures = {}
    for record in records:
        event = record.dagster_event
        assert event is not None
        error = event.step_failure_data.error
        messages = []
        while error is not None:
            messages.append(error.message)
            error = error.cause
        failures[event.step_key or ""] = "\n".join(messages)
    return failures


def test_a_ui_run_for_a_genre_no_movie_has_fails_before_any_export(dagster_stack):
    stack = dagster_stack
    _add_partition(stack, TYPO)
    started = time.monotonic()
    run_id = stack.launch_run(asset_selection=GENRE_ASSETS, tags={PARTITION_TAG: TYPO})
    run = _finished(stack, run_id)
    TIMINGS["run for an unknown genre: launch -> failed"] = time.monotonic() - started
    assert run["status"] == "FAILURE"
    failures = _step_failures(stack, run_id)
    assert list(failures) == ["genre_film_export"], failures
    assert (
        "unknown genre 'Scifi' (not in movies.csv); did you mean 'Sci-Fi'?"
        in failures["genre_film_export"]
    )
    assert not (Path(stack.lake) / "movielens" / "scifi").exists()
    assert stack.materializations("genre_film_export", [TYPO]) == []


@pytest.mark.browser
def test_the_asset_page_shows_a_failed_genre_check_without_json(
    chromium, dagster_stack, browser_page
):
    from playwright.sync_api import expect

    stack, page, base = dagster_stack, browser_page, dagster_stack.base_url
    _add_partition(stack, ALLOWED)
    run_id = stack.launch_run(
        asset_selection=GENRE_ASSETS,
        tags={PARTITION_TAG: ALLOWED, ALLOW_MISSING_GENRE_TAG: "true"},
    )
    run = _finished(stack, run_id)
    if run["status"] != "SUCCESS":
        raise StackError(f"run {run_id} ended {run['status']}\n{stack.log_tails()}")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "genre_film_table_failed_check.png"
    description = f"{ALLOWED}: no movie in movies.csv has the genre '{ALLOWED}'"
    try:
        page.goto(f"{base}/assets/genre_film_table?view=checks")
        expect(page.get_by_text("non_empty").first).to_be_visible()
        page.get_by_text("non_empty").first.click()
        expect(page.get_by_text(description).first).to_be_visible(timeout=60_000)
    finally:
        with contextlib.suppress(Exception):
            page.screenshot(path=shot, full_page=True)
        print(f"\nscreenshot: {shot}")
    assert shot.stat().st_size > 0
    assert re.search(r"[Ff]ail", page.content())
