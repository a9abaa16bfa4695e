"""genre_film_table's checks take the summary the export step recorded from the bytes it wrote,
and read the export back only when the file is no longer the one that was written."""

import dagster as dg

from genre_assets.assets import ALL_ASSETS
from genre_assets.assets.genre_films import CHECK_SUMMARY
from genre_assets.checks import genre_tables as checks
from genre_assets.checks.source_data import source_data_checks
from genre_assets.partitions import range_tags
from genre_assets.resources.local.lake import LocalLakeResource
from genre_assets_tests.support.local import local_resources, materialize_genres

EXPORT = dg.AssetKey("genre_film_export")
TABLE = dg.AssetKey("genre_film_table")


def _exports_read(monkeypatch) -> list[str]:
    read: list[str] = []
    original = LocalLakeResource.read_bytes

    def spy(self, key):
        read.append(key)
        return original(self, key)

    monkeypatch.setattr(LocalLakeResource, "read_bytes", spy)
    return read


def test_the_checks_use_the_recorded_summary_of_the_bytes_written(golden_lake, monkeypatch):
    read = _exports_read(monkeypatch)
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_genres(golden_lake, ["Comedy", "Drama"], instance)
        assert not [key for key in read if key.endswith("_films.tsv")]
        for genre in ("Comedy", "Drama"):
            record = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=EXPORT, asset_partitions=[genre]), limit=1
            ).records[0]
            recorded = record.asset_materialization.metadata[CHECK_SUMMARY].value
            path = golden_lake / "movielens" / genre.lower() / f"{genre.lower()}_films.tsv"
            # The same summary as reading the file back gives.
            assert checks.summary_from_json(recorded, recorded["version"]) == (
                checks.summarize_export(path.read_bytes(), str(path))
            )
    evaluations = [e for e in result.get_asset_check_evaluations() if e.asset_key == TABLE]
    assert len(evaluations) == 6 and all(e.passed for e in evaluations)


def test_an_export_changed_since_it_was_written_is_read_back(golden_lake, monkeypatch):
    with dg.DagsterInstance.ephemeral() as instance:
        materialize_genres(golden_lake, ["Drama"], instance)
        path = golden_lake / "movielens/drama/drama_films.tsv"
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join([*lines, lines[1]]))  # the first film listed twice
        read = _exports_read(monkeypatch)
        result = dg.materialize(
            [*ALL_ASSETS, source_data_checks],
            selection=[TABLE],
            resources=local_resources(golden_lake),
            instance=instance,
            tags=range_tags("Drama", "Drama"),
            raise_on_error=False,
        )
    assert "movielens/drama/drama_films.tsv" in read
    unique = [e for e in result.get_asset_check_evaluations() if e.check_name == "unique_movie_id"]
    assert len(unique) == 1 and not unique[0].passed
