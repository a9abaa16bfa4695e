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
from genre_assets.assets.source_tables import GROUP, movies, ratings
from genre_assets.checks import genre_tables as checks
from genre_assets.domain.genres import refuse_unknown_genres
from genre_assets.domain.schema import MOVIES, SOURCE_TABLES
from genre_assets.domain.targets import GenreTarget, genre_targets
from genre_assets.domain.tsv import PREVIEW_ROWS, parse_export, preview_markdown
from genre_assets.partitions import genre_partitions
from genre_assets.resources.catalog import CatalogResource
from genre_assets.resources.engine import EngineResource
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
    event = context.instance.get_latest_materialization_event(movies.key)
    materialization = event.asset_materialization if event else None
    if materialization is not None:
        recorded = materialization.metadata.get("source_versions")
        found = materialization.metadata.get("genres_found")
        current = {f.key: f.version for f in files}
        if recorded is not None and found is not None and recorded.value == current:
            return dict(found.value)
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
        # Only the head, as the engine wrote it: genre_film_table's checks read the whole file.
        rows = parse_export(export.head, export.uri, limit=PREVIEW_ROWS)
        context.add_asset_metadata(
            {
                "row_count": export.row_count,
                "path": dg.MetadataValue.path(export.uri),
                "size_bytes": export.size_bytes,
                "preview": dg.MetadataValue.md(preview_markdown(rows)),
                "engine": engine.engine_name,
            },
            partition_key=export.genre,
        )
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
    for target in targets:
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
