"""The whole asset graph on the local engine against a hand-written fixture and hand-written
expected tables (docs/contract.md): quoted titles, quotes, year ranges, missing years, padding, half
stars, unrated films, substring genres, `(no genres listed)`, duplicate titles, a newline and a
backslash inside titles."""

from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from genre_assets.assets.genre_films import ALLOW_MISSING_GENRE_TAG
from genre_assets_tests.support.local import materialize_genres

GENRES = ["Comedy", "Drama", "Children", "Children's", "(no genres listed)", "Sci-Fi", "Action"]

EXPECTED = {
    "comedy": (
        "movie_id\ttitle\tyear\tavg_rating\trating_count\n"
        "6\tLife Goes On\t2007\t3.6667\t3\n"
        "8\tPadded Title\t2001\t4.5000\t1\n"
        "2\tAmerican President, The\t1995\t3.8333\t3\n"
        "12\tSame Title\t1995\t3.5000\t1\n"
        "13\tSame Title\t1995\t4.0000\t1\n"
        "1\tToy Story\t1995\t4.0000\t2\n"
        "4\tFawlty Towers\t1975\t2.7500\t2\n"
        "7\tNameless Film\t\t1.5000\t1\n"
    ),
    "drama": (
        "movie_id\ttitle\tyear\tavg_rating\trating_count\n"
        "6\tLife Goes On\t2007\t3.6667\t3\n"
        "15\tBack\\\\slash\t2004\t2.5000\t1\n"
        "14\tLine Break\t2003\t4.0000\t1\n"
        "2\tAmerican President, The\t1995\t3.8333\t3\n"
    ),
    # "Children" must not match "Children's" and vice versa.
    "children": "movie_id\ttitle\tyear\tavg_rating\trating_count\n1\tToy Story\t1995\t4.0000\t2\n",
    "children_s": "movie_id\ttitle\tyear\tavg_rating\trating_count\n10\tKids Film\t1990\t3.0000\t1\n",
    "no_genres_listed": (
        "movie_id\ttitle\tyear\tavg_rating\trating_count\n11\tNothing Here\t1999\t2.0000\t1\n"
    ),
    # An en dash range: first year only.
    "sci_fi": "movie_id\ttitle\tyear\tavg_rating\trating_count\n5\tBabylon 5\t1993\t0.5000\t1\n",
    "action": (
        'movie_id\ttitle\tyear\tavg_rating\trating_count\n3\tGreat "Escape" Artist\t1963\t5.0000\t1\n'
    ),
}


@pytest.fixture
def golden_run(golden_lake, instance):
    result = materialize_genres(golden_lake, GENRES, instance=instance)
    return golden_lake, instance, result


def test_exports_match_the_hand_written_tables(golden_run):
    lake, _, result = golden_run
    assert result.success
    for slug, expected in EXPECTED.items():
        path = lake / "movielens" / slug / f"{slug}_films.tsv"
        assert path.read_bytes() == expected.encode("utf-8"), slug


def test_no_temporary_files_are_left_behind(golden_run):
    lake, _, _ = golden_run
    leftovers = [p for p in (lake / "movielens").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_catalog_tables_read_the_exports_back(golden_run):
    lake, _, _ = golden_run
    with duckdb.connect(str(lake / "_catalog.duckdb"), read_only=True) as con:
        drama = con.execute("SELECT * FROM movielens.drama_films").fetchall()
        tables = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'movielens'"
            ).fetchall()
        }
    assert drama[1] == (15, "Back\\slash", 2004, Decimal("2.5000"), 1)
    assert drama[0][2] == 2007
    assert {
        "movies",
        "ratings",
        "comedy_films",
        "children_s_films",
        "no_genres_listed_films",
    } <= tables


def test_every_genre_partition_gets_its_own_metadata(golden_run):
    lake, instance, _ = golden_run
    for genre, slug in [("Comedy", "comedy"), ("Children's", "children_s")]:
        (record,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("genre_film_export"), asset_partitions=[genre]
            ),
            limit=1,
        ).records
        metadata = record.asset_materialization.metadata
        assert metadata["row_count"].value == EXPECTED[slug].count("\n") - 1
        assert metadata["path"].value == str(lake / "movielens" / slug / f"{slug}_films.tsv")
        assert metadata["engine"].value.startswith("duckdb")
        # The preview is the file's first rows (at most five), in the file's order.
        preview = metadata["preview"].value.splitlines()
        expected_rows = EXPECTED[slug].splitlines()[1:]
        assert preview[0].startswith("| movie_id |")
        assert len(preview) == 2 + min(5, len(expected_rows)), preview
        shown = [line.split(" | ")[0].lstrip("| ") for line in preview[2:]]
        assert shown == [row.split("\t")[0] for row in expected_rows[:5]], preview


def test_source_tables_report_row_counts_and_genres(golden_run):
    _, instance, _ = golden_run
    movies = instance.get_latest_materialization_event(dg.AssetKey("movies")).asset_materialization
    cache = instance.get_latest_materialization_event(
        dg.AssetKey("columnar_cache")
    ).asset_materialization
    assert movies.metadata["row_count"].value == 15
    # Counting ratings.csv would cost a scan: the columnar cache reports it.
    assert cache.metadata["ratings_row_count"].value == 20
    assert cache.metadata["movies_row_count"].value == 15
    assert movies.metadata["genres_found"].value["Comedy"] == 9
    assert "Children's" in instance.get_dynamic_partitions("genre")


def test_checks_pass_on_good_data(golden_run):
    _, _, result = golden_run
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "non_empty",
        "avg_rating_in_range",
        "unique_movie_id",
        "ratings_in_range",
        "ratings_reference_known_movies",
    }
    assert all(e.passed for e in evaluations.values())


def test_a_misspelt_genre_is_refused_before_anything_is_written(golden_lake):
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_genres(golden_lake, ["Comedyy"], instance, raise_on_error=False)
        assert not result.success
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert [e.step_key for e in failures] == ["genre_film_export"]
        message = failures[0].step_failure_data.error.cause.message  # type: ignore[union-attr]
        assert "unknown genre 'Comedyy' (not in movies.csv); did you mean 'Comedy'?" in message
        assert "genre-assets/allow-missing-genre=true" in message
        assert not (golden_lake / "movielens/comedyy").exists()
        skipped = {e.asset_key.path[0] for e in result.get_asset_materialization_events()}
        assert "genre_film_table" not in skipped and "genre_film_export" not in skipped


def test_an_allowed_missing_genre_yields_an_empty_table_and_a_warning_for_its_partition(
    golden_lake,
):
    result = materialize_genres(golden_lake, ["Comedyy"], tags={ALLOW_MISSING_GENRE_TAG: "true"})
    assert result.success
    (non_empty,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "non_empty"]
    assert not non_empty.passed and non_empty.partition == "Comedyy"
    assert non_empty.severity == dg.AssetCheckSeverity.WARN
    assert non_empty.description == "Comedyy: no movie in movies.csv has the genre 'Comedyy'"
    assert (golden_lake / "movielens/comedyy/comedyy_films.tsv").read_text() == (
        "movie_id\ttitle\tyear\tavg_rating\trating_count\n"
    )


def test_rerunning_is_idempotent(golden_lake, instance):
    materialize_genres(golden_lake, ["Comedy"], instance=instance)
    first = (golden_lake / "movielens/comedy/comedy_films.tsv").read_bytes()
    assert materialize_genres(golden_lake, ["Comedy"], instance=instance).success
    assert (golden_lake / "movielens/comedy/comedy_films.tsv").read_bytes() == first


def test_new_ratings_change_the_next_export(golden_lake):
    materialize_genres(golden_lake, ["Sci-Fi"])
    with (golden_lake / "movielens/ratings/more.csv").open("w") as handle:
        handle.write("userId,movieId,rating,timestamp\n9,5,5.0,964982703\n")
    materialize_genres(golden_lake, ["Sci-Fi"])
    assert (
        (golden_lake / "movielens/sci_fi/sci_fi_films.tsv")
        .read_text()
        .endswith("5\tBabylon 5\t1993\t2.7500\t2\n")
    )
