"""The local lake owns the fact that its folder must exist: a missing folder fails on first use
with the way out, and nothing (catalog file, cache, export) is created in its place."""

from __future__ import annotations

import pytest

from genre_assets.domain.schema import MOVIES, RATINGS
from genre_assets.errors import ConfigurationError, InputError
from genre_assets.resources.local.lake import LocalLakeResource
from genre_assets.resources.raw_files import source_files
from genre_assets_tests.support.local import materialize_genres


def test_a_missing_lake_folder_is_a_configuration_error_with_the_way_out(tmp_path):
    missing = tmp_path / "no" / "lake"
    lake = LocalLakeResource(path=str(missing))
    with pytest.raises(ConfigurationError) as raised:
        lake.list_objects("movielens/movies/")
    assert str(raised.value) == (
        f"the lake folder {missing} does not exist (GENRE_ASSETS_LAKE or --lake): point it at "
        f"your MovieLens lake, or create sample data with: genre-assets sample-data --lake {missing}"
    )
    with pytest.raises(ConfigurationError):
        lake.write_bytes("movielens/drama/drama_films.tsv", b"x")
    assert not (tmp_path / "no").exists()


def test_a_file_is_not_a_lake(tmp_path):
    (tmp_path / "lake").write_text("")
    with pytest.raises(ConfigurationError, match=r"is a file, not a folder \(GENRE_ASSETS_LAKE"):
        LocalLakeResource(path=str(tmp_path / "lake")).root_uri  # noqa: B018


def test_a_run_over_a_missing_lake_fails_at_its_first_step_and_creates_nothing(tmp_path):
    # What the UI does (no CLI pre-flight): the first step's catalog lookup meets the check.
    missing = tmp_path / "no" / "lake"
    result = materialize_genres(missing, ["Drama"], raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "film_database"
    cause = failure.step_failure_data.error.cause
    assert f"the lake folder {missing} does not exist" in cause.message
    assert not (tmp_path / "no").exists()


def test_only_a_lake_without_any_raw_data_suggests_sample_data(tmp_path):
    lake = LocalLakeResource(path=str(tmp_path))
    with pytest.raises(InputError) as empty:
        source_files(lake, MOVIES)
    assert str(empty.value).endswith(
        "; to try genre-assets without MovieLens data, create sample data with: "
        f"genre-assets sample-data --lake {tmp_path}"
    )
    (tmp_path / "movielens" / "movies").mkdir(parents=True)
    (tmp_path / "movielens" / "movies" / "movies.csv").write_text("movieId,title,genres\n")
    with pytest.raises(InputError) as no_ratings:
        source_files(lake, RATINGS)
    # The user's movies.csv is there: sample data would replace it, so it is not suggested.
    assert str(no_ratings.value) == (
        f"no .csv files in {tmp_path}/movielens/ratings/: the ratings table needs MovieLens "
        "ratings.csv data there"
    )
