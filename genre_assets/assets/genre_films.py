"""The per-genre assets: the TSV export in the lake and the catalog table over it.

Both are partitioned by genre with a single-run backfill policy, so a backfill of many genres is
one run, one genre query and one pass over the ratings (per contiguous range of partitions).
"""

import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dagster as dg

# Not exported by Dagster; the type its own AssetCheckResult uses to tie a check result to the
# materialisation it checked (dagster is pinned, see pyproject.toml).
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from genre_assets.assets.columnar_cache import columnar_cache
from genre_assets.assets.raw_sources import RAW_SOURCES
from genre_assets.assets.source_tables import GROUP, movies, ratings, recorded_genre_counts
from genre_assets.checks import genre_tables as checks
from genre_assets.domain.genres import refuse_unknown_genres
from genre_assets.domain.schema import MOVIES, SOURCE_TABLES
from genre_assets.domain.targets import GenreTarget, genre_targets
from genre_assets.domain.tsv import PREVIEW_ROWS, parse_export, preview_markdown
from genre_assets.errors import InputError
from genre_assets.partitions import genre_partitions
from genre_assets.resources.catalog import CatalogResource
from genre_assets.resources.engine import EngineResource, GenreExport
from genre_assets.resources.lake import LakeResource
from genre_assets.resources.raw_files import source_files, summarize_movies

# A run tag that lets a run materialise a genre no movie has yet (the CLI's --allow-missing-genre).
ALLOW_MISSING_GENRE_TAG = "genre-assets/allow-missing-genre"


def _single_run_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`@dg.asset` with a single-run backfill policy: one run per backfill. The policy is the
    documented way to get that; its beta warning is silenced for these definitions only."""

    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", category=dg.BetaWarning, message=".*backfill_policy.*"
            )
            return dg.asset(backfill_policy=dg.BackfillPolicy.single_run(), **kwargs)(fn)

    return decorate


def _ensure_source_tables(
    context: dg.AssetExecutionContext, engine: EngineResource, catalog: CatalogResource
) -> None:
    """The genre assets selected without their upstream (a partition backfill on a fresh lake, as
    the UI offers) still need the database and both source tables: made here when missing, as the
    original DAG checked its database on every run; two catalog lookups when they exist."""
    if not catalog.database_exists():
        context.log.info(f"Database {catalog.database_name()} does not exist yet: creating it")
        engine.create_database(context.log)
    present = set(catalog.list_tables())
    for table in SOURCE_TABLES:
        if table.name not in present:
            context.log.info(f"Source table {table.name} does not exist yet: defining it")
            engine.create_source_table(context.log, table)


def _movie_genre_counts(context: dg.AssetExecutionContext, lake: LakeResource) -> dict[str, int]:
    """How many movies have each genre, from movies.csv as it is now.

    The latest `movies` materialisation recorded these counts with the versions of the files it
    read; while the files are unchanged (one listing to find out) they are reused, otherwise the
    files are read again (about 3 MB for the full MovieLens release).
    """
    files = source_files(lake, MOVIES)
    recorded = recorded_genre_counts(context.instance, files)
    if recorded is not None:
        return recorded
    return dict(summarize_movies(lake, files).genre_counts)


def _run_targets(
    context: dg.AssetExecutionContext, genre_counts: Mapping[str, int]
) -> list[GenreTarget]:
    """The run's genres, refused before anything is written when one is a likely typo (no movie
    has it) unless the run carries ALLOW_MISSING_GENRE_TAG."""
    # partition_keys covers both a single partition and a single-run backfill range.
    targets = genre_targets(context.partition_keys)
    if context.run.tags.get(ALLOW_MISSING_GENRE_TAG) != "true":
        refuse_unknown_genres(
            [t.name for t in targets],
            genre_counts,
            override=f"launch the run with the tag {ALLOW_MISSING_GENRE_TAG}=true",
        )
    return targets


# Export metadata: what genre_film_table's checks need from the file, computed from the bytes
# the engine wrote, with the version of the file they were written as.
CHECK_SUMMARY = "check_summary"


def _summary_of_written(export: GenreExport) -> dict[str, Any] | None:
    """The checks' summary of an export the engine handed over whole with its version; None when
    it did not, or when the file does not parse (then the checks read it and fail as before)."""
    if export.data is None or not export.version:
        return None
    try:
        summary = checks.summarize_export(export.data, export.uri)
    except InputError:
        return None
    return checks.summary_to_json(summary, export.version)


@_single_run_asset(
    group_name=GROUP,
    # The raw folders too, so new raw data marks every genre stale (see columnar_cache.py).
    deps=[movies, ratings, columnar_cache, *RAW_SOURCES],
    partitions_def=genre_partitions,
    kinds={"sql", "tsv"},
    description=(
        "Per genre: every rated film with its average rating, exported as "
        "movielens/{slug}/{slug}_films.tsv in the lake."
    ),
)
def genre_film_export(
    context: dg.AssetExecutionContext,
    engine: EngineResource,
    catalog: CatalogResource,
    lake: LakeResource,
) -> dg.MaterializeResult:
    targets = _run_targets(context, _movie_genre_counts(context, lake))
    _ensure_source_tables(context, engine, catalog)
    context.log.info(f"Exporting {len(targets)} genre(s): {', '.join(t.name for t in targets)}")
    exports = engine.export_genres(context.log, targets)
    for export in exports:
        # Only the head, as the engine wrote it.
        rows = parse_export(export.head, export.uri, limit=PREVIEW_ROWS)
        metadata: dict[str, Any] = {
            "row_count": export.row_count,
            "path": dg.MetadataValue.path(export.uri),
            "size_bytes": export.size_bytes,
            "preview": dg.MetadataValue.md(preview_markdown(rows)),
            "engine": engine.engine_name,
        }
        summary = _summary_of_written(export)
        if summary is not None:
            metadata[CHECK_SUMMARY] = dg.MetadataValue.json(summary)
        context.add_asset_metadata(metadata, partition_key=export.genre)
    return dg.MaterializeResult(metadata={"genres_in_run": len(exports), **engine.cost_metadata()})


@_single_run_asset(
    group_name=GROUP,
    deps=[genre_film_export, *RAW_SOURCES],
    partitions_def=genre_partitions,
    kinds={"sql"},
    check_specs=checks.check_specs(dg.AssetKey("genre_film_table"), genre_partitions),
    description="Per genre: the catalog table {database}.{slug}_films over the genre's export folder.",
)
def genre_film_table(
    context: dg.AssetExecutionContext,
    engine: EngineResource,
    lake: LakeResource,
    catalog: CatalogResource,
):
    genre_counts = _movie_genre_counts(context, lake)
    targets = _run_targets(context, genre_counts)
    _ensure_source_tables(context, engine, catalog)
    metadata = dict(engine.create_genre_tables(context.log, targets))
    for target in targets:
        context.add_asset_metadata(
            {
                "table": f"{catalog.database_name()}.{target.table}",
                "location": dg.MetadataValue.path(lake.uri(target.export_folder)),
            },
            partition_key=target.name,
        )
    yield dg.MaterializeResult(metadata=metadata)
    yield from _check_each_genre(context, lake, targets, genre_counts)


def _check_each_genre(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    targets: list[GenreTarget],
    genre_counts: Mapping[str, int],
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """One evaluation per selected check and genre, each tied to that genre's materialisation.

    Dagster expects one output per selected check from the step; the evaluations, which carry
    the partitions, are separate events (checks/genre_tables.py says why).
    """
    selected = context.selected_asset_check_keys
    if not selected:
        return
    for output_name, spec in context.assets_def.check_specs_by_output_name.items():
        if spec.key in selected:
            yield dg.Output(None, output_name=output_name)
    materializations = _latest_materializations(context, [t.name for t in targets])
    recorded = _recorded_summaries(context, lake, targets)
    for target in targets:
        summary = recorded.get(target.name)
        if summary is None:
            data = lake.read_bytes(target.export_key)
            summary = checks.summarize_export(data, lake.uri(target.export_key))
        for evaluation in checks.evaluate(
            context.assets_def.key,
            target.name,
            summary,
            genre_counts.get(target.name, 0),
            materializations.get(target.name),
        ):
            if evaluation.asset_check_key in selected:
                yield evaluation


def _recorded_summaries(
    context: dg.AssetExecutionContext, lake: LakeResource, targets: list[GenreTarget]
) -> dict[str, checks.ExportSummary]:
    """The summaries the latest export of each genre recorded from the bytes it wrote, for the
    genres whose export file still has the version it was written as (one listing per genre):
    the file is then those bytes, and reading it back would give the same summary. Genres
    without one are absent: their checks read the file."""
    genres = [t.name for t in targets]
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=genre_film_export.key, asset_partitions=genres),
        limit=len(genres),
    ).records
    latest: dict[str, Any] = {}
    for record in records:  # newest first: the first one of a genre is its latest
        if record.partition_key and record.partition_key not in latest:
            materialization = record.asset_materialization
            latest[record.partition_key] = (
                materialization.metadata.get(CHECK_SUMMARY) if materialization else None
            )
    found: dict[str, checks.ExportSummary] = {}
    for target in targets:
        entry = latest.get(target.name)
        if entry is None:
            continue
        current = {o.key: o.version for o in lake.list_objects(target.export_folder)}
        summary = checks.summary_from_json(entry.value, current.get(target.export_key, ""))
        if summary is not None:
            found[target.name] = summary
    return found


def _latest_materializations(
    context: dg.AssetExecutionContext, genres: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """This run's materialisation of each genre, which the genre's check results refer to (as
    Dagster's own AssetCheckResult does for a single partition), in one query."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=context.assets_def.key, asset_partitions=genres),
        limit=len(genres),
    ).records
    return {
        record.partition_key: AssetCheckEvaluationTargetMaterializationData(
            run_id=record.run_id, storage_id=record.storage_id, timestamp=record.timestamp
        )
        for record in records
        if record.partition_key and record.run_id == context.run.run_id
    }
