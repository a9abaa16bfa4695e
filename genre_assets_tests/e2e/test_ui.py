"""The Dagster UI in headless Chromium: the catalog, the genre partitions and a launch."""

from __future__ import annotations

import contextlib
import re
import time

import pytest

from genre_assets_tests.e2e.stack import PARTITION_TAG, TIMINGS, asset_paths, export_file, tags_of
from genre_assets_tests.reference import expected_tsv

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ALL_ASSETS = ["film_database", "movies", "ratings", "genre_film_export", "genre_film_table"]
GENRE_ASSETS = ["genre_film_export", "genre_film_table"]
# A genre no other end-to-end test materialises, with its slug from the README's contract.
GENRE, SLUG = "Fantasy", "fantasy"


def asset_link(page, asset: str):
    # The link's accessible name repeats the key (a truncation helper), so match its target.
    return page.locator(f'a[href="/assets/{asset}"]').first


def test_materialise_one_genre_from_the_ui(
    chromium, dagster_stack, browser_page, tmp_path, record_property
):
    from playwright.sync_api import expect

    stack, page, base = dagster_stack, browser_page, dagster_stack.base_url
    partitions = stack.partition_keys("genre_film_export")
    started = time.monotonic()
    try:
        # The catalog lists the whole graph.
        page.goto(f"{base}/assets")
        for asset in ALL_ASSETS:
            expect(asset_link(page, asset)).to_be_visible()
        page.screenshot(path=tmp_path / "catalog.png")

        # The export's Partitions tab shows the genre partitions.
        asset_link(page, "genre_film_export").click()
        expect(page).to_have_url(re.compile(r"/assets/genre_film_export"))
        page.get_by_role("tab", name="Partitions").click()
        expect(page.get_by_text(f"{len(partitions)} Partitions Selected")).to_be_visible()
        for genre in ("Action", "Comedy", "Drama", GENRE):
            expect(page.get_by_title(genre, exact=True).first).to_be_visible()
        page.screenshot(path=tmp_path / "partitions.png")

        # Select both genre assets in the catalog and launch them for one genre.
        page.goto(f"{base}/assets")
        for asset in GENRE_ASSETS:
            page.locator("label").filter(has=page.get_by_test_id(f"checkbox-{asset}")).click()
        page.get_by_role("button", name=re.compile(r"Materialize selected")).click()
        dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
        expect(dialog).to_be_visible()
        dialog.get_by_text("Select a partition or create one").click()
        page.get_by_placeholder("Filter partitions").fill(GENRE)
        popover = page.locator("[role=dialog].dagster-popover")
        popover.get_by_role("menuitem").filter(has=page.get_by_title(GENRE, exact=True)).click()
        dialog.get_by_text("Launch runs to materialize").click()  # closes the popover
        expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
        page.screenshot(path=tmp_path / "launch_dialog.png")
        # One partition of two assets with the same partitions: one run, not a backfill.
        dialog.get_by_role("button", name="Launch 1 run").click()

        view = page.get_by_role("region", name=re.compile("Notifications")).get_by_role(
            "link", name="View", exact=True
        )
        expect(view.first).to_be_visible()
        run_href = view.first.get_attribute("href")
        assert run_href and re.fullmatch(r"/runs/[0-9a-f-]{36}", run_href), run_href
        page.goto(f"{base}{run_href}")
        # The run page updates live; the daemon dequeues the run within a second or two.
        expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=120_000)
        expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible()
        page.screenshot(path=tmp_path / "run.png", full_page=True)
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=tmp_path / "failure.png", full_page=True)
        print(f"\nscreenshots in {tmp_path}\n{stack.log_tails()}")
        raise
    elapsed = time.monotonic() - started
    TIMINGS["UI: catalog -> partitions -> launch -> run Success"] = elapsed
    record_property("ui_seconds", round(elapsed, 1))
    print(f"\nUI materialisation of {GENRE}: {elapsed:.1f} s; screenshots in {tmp_path}")

    run_id = run_href.rsplit("/", 1)[-1]
    # Exactly one run was launched for the genre, and it is the one the toast linked to.
    assert [r["runId"] for r in stack.runs({PARTITION_TAG: GENRE})] == [run_id]
    run = stack.run(run_id)
    assert run["status"] == "SUCCESS"
    assert tags_of(run).get(PARTITION_TAG) == GENRE
    assert asset_paths(run) == set(GENRE_ASSETS)
    for asset in GENRE_ASSETS:
        events = stack.materializations(asset, [GENRE])
        assert [e["runId"] for e in events] == [run_id], (asset, events)
    expected = expected_tsv(stack.lake, GENRE).encode("utf-8")
    assert expected.count(b"\n") > 1
    assert export_file(stack.lake, SLUG).read_bytes() == expected
    assert (tmp_path / "run.png").stat().st_size > 0
