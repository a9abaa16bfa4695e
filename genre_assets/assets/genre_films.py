"""The per-genre assets: the TSV export in the lake and the catalog table over it.

Both are partitioned by genre with a single-run backfill policy, so a backfill of many genres is
one run, one genre query and one pass over the ratings (per contiguous range of partitions).
"""

import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg

from genre_assets.assets.columnar_cache import columnar_cache
from genre_assets.assets.source_tables import GROUP, movies, ratings
from genre_assets.checks import genre_tables as checks
from genre_assets.domain.schema import SOURCE_TABLES
from genre_assets.domain.targets import GenreTarget, genre_targets
from genre_assets.domain.tsv import PREVIEW_ROWS, parse_export, preview_markdown
from genre_assets.partitions import genre_partitions
from genre_assets.resources.catalog import CatalogResource
from genre_assets.resources.engine import EngineResource
from genre_assets.resources.lake import LakeResource


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


def _run_targets(context: dg.AssetExecutionContext) -> list[GenreTarget]:
    # partition_keys covers both a single partition and a single-run backfill range.
    return genre_targets(context.partition_keys)


@_single_run_asset(
    group_name=GROUP,
    deps=[movies, ratings, columnar_cache],
    partitions_def=genre_partitions,
    kinds={"sql", "tsv"},
    description=(
        "Per genre: every rated film with its average rating, exported as "
        "movielens/{slug}/{slug}_films.tsv in the lake."
    ),
)
def genre_film_export(
    context: dg.AssetExecutionContext, engine: EngineResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    targets = _run_targets(context)
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


def _genre_movie_counts(context: dg.AssetExecutionContext) -> dict[str, int] | None:
    """Genre counts recorded by the latest materialisation of `movies`, if any."""
    event = context.instance.get_latest_materialization_event(movies.key)
    materialization = event.asset_materialization if event else None
    found = materialization.metadata.get("genres_found") if materialization else None
    return dict(found.value) if found is not None else None


@_single_run_asset(
    group_name=GROUP,
    deps=[genre_film_export],
    partitions_def=genre_partitions,
    kinds={"sql"},
    check_specs=checks.check_specs(dg.AssetKey("genre_film_table")),
    description="Per genre: the catalog table {database}.{slug}_films over the genre's export folder.",
)
def genre_film_table(
    context: dg.AssetExecutionContext,
    engine: EngineResource,
    lake: LakeResource,
    catalog: CatalogResource,
):
    targets = _run_targets(context)
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
    summaries = {
        t.name: checks.summarize_export(lake.read_bytes(t.export_key), lake.uri(t.export_key))
        for t in targets
    }
    yield from checks.evaluate(summaries, _genre_movie_counts(context))
