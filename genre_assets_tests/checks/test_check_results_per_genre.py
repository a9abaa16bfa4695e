"""The genre checks are recorded per partition: each genre keeps its own status in the instance,
tied to its own materialisation, whatever later runs of other genres report."""

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from genre_assets.assets.genre_films import ALLOW_MISSING_GENRE_TAG
from genre_assets.checks.genre_tables import CHECK_SPECS_DOC
from genre_assets_tests.support.local import materialize_genres

TABLE = dg.AssetKey("genre_film_table")
NON_EMPTY = dg.AssetCheckKey(TABLE, "non_empty")


def _status_by_genre(instance: dg.DagsterInstance, check: dg.AssetCheckKey):
    infos = instance.event_log_storage.get_asset_check_partition_info([check])
    return {info.partition_key: info for info in infos}


def test_each_genre_keeps_its_own_check_status_across_runs(golden_lake):
    allow = {ALLOW_MISSING_GENRE_TAG: "true"}
    with dg.DagsterInstance.ephemeral() as instance:
        # One single-run range covering a good genre and one no movie has.
        first = materialize_genres(golden_lake, ["Drama", "Comedyy"], instance, tags=allow)
        evaluations = [e for e in first.get_asset_check_evaluations() if e.asset_key == TABLE]
        assert sorted((e.partition, e.check_name) for e in evaluations) == sorted(
            (genre, name) for genre in ("Drama", "Comedyy") for name in CHECK_SPECS_DOC
        )
        # A later run of Drama alone must not turn Comedyy green.
        second = materialize_genres(golden_lake, ["Drama"], instance)

        by_genre = _status_by_genre(instance, NON_EMPTY)
        assert by_genre["Comedyy"].latest_execution_status == AssetCheckExecutionRecordStatus.FAILED
        assert (
            by_genre["Drama"].latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED
        )
        # Each result points at its genre's latest materialisation (the UI shows it as current).
        assert by_genre["Comedyy"].is_current and by_genre["Drama"].is_current
        drama = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=TABLE, asset_partitions=["Drama"]), limit=1
        ).records[0]
        assert drama.run_id == second.run_id
        assert by_genre["Drama"].latest_target_materialization_storage_id == drama.storage_id

        record = instance.event_log_storage.get_asset_check_execution_history(
            NON_EMPTY, limit=5, partition_filter=None
        )
        failed = [r for r in record if r.status == AssetCheckExecutionRecordStatus.FAILED]
        evaluation = failed[0].event.dagster_event.event_specific_data  # type: ignore[union-attr]
        assert evaluation.partition == "Comedyy"
        assert evaluation.description == "Comedyy: no movie in movies.csv has the genre 'Comedyy'"
