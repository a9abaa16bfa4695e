"""The catalog check: the original DAG's "does the Glue database/table exist?" branches, as a sensor.

Each tick compares the catalog (Glue on AWS, the DuckDB file locally) and the lake with what has
been materialised, and requests one run for exactly what is missing or stale:
- the database or a source table is missing -> the source tables are rebuilt;
- a genre that was materialised before has lost its table or its export, or its export is older
  than the newest raw CSV -> those genres are refreshed.
Stale genres are refreshed in one run (one cluster, one pass over the ratings) spanning the
partition range from the first to the last of them; genres in between are recomputed in the same
pass, which costs next to nothing. Run keys make repeated ticks idempotent.
"""

import hashlib
import json

import dagster as dg

from genre_assets.assets import RAW_SOURCE_KEYS
from genre_assets.domain.genres import export_key, table_name
from genre_assets.domain.schema import SOURCE_TABLES
from genre_assets.jobs import all_genres_job
from genre_assets.partitions import GENRE_PARTITIONS_NAME, range_tags
from genre_assets.resources.catalog import CatalogResource
from genre_assets.resources.lake import LakeResource

# The raw folders are observed first, so the source tables record the raw versions they read.
SOURCE_ASSETS = [
    *RAW_SOURCE_KEYS,
    dg.AssetKey("film_database"),
    dg.AssetKey("movies"),
    dg.AssetKey("ratings"),
]


def _raw_files(lake: LakeResource) -> list:
    return [obj for table in SOURCE_TABLES for obj in lake.list_objects(table.folder)]


def _stale_genres(
    lake: LakeResource, catalog: CatalogResource, genres: list[str], newest_raw: float
) -> dict[str, str]:
    """Genre -> why it needs a refresh, for genres that were materialised before."""
    tables = set(catalog.list_tables())
    reasons = {}
    for genre in genres:
        exports = {o.key: o for o in lake.list_objects(export_key(genre).rsplit("/", 1)[0] + "/")}
        export = exports.get(export_key(genre))
        if table_name(genre) not in tables:
            reasons[genre] = "table missing"
        elif export is None:
            reasons[genre] = "export missing"
        elif export.modified < newest_raw:
            reasons[genre] = "export older than the raw data"
    return reasons


def _run_key(kind: str, genres: list[str], raw_versions: list[str]) -> str:
    digest = hashlib.sha256(json.dumps([kind, genres, raw_versions]).encode()).hexdigest()[:16]
    return f"catalog-check:{kind}:{digest}"


@dg.sensor(
    name="catalog_check_sensor",
    job=all_genres_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Requests a run for whatever the catalog or the lake is missing: the database, a source "
        "table, or genre tables/exports that are gone or older than the raw CSVs."
    ),
)
def catalog_check_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, catalog: CatalogResource
) -> dg.SensorResult | dg.SkipReason:
    raw = _raw_files(lake)
    if not raw:
        return dg.SkipReason(f"no raw CSVs in {lake.root_uri}/movielens/: nothing to build from")
    raw_versions = sorted(f"{o.key}@{o.version}" for o in raw)

    missing_sources = [] if catalog.database_exists() else [catalog.database_name()]
    if not missing_sources:
        present = set(catalog.list_tables())
        missing_sources = [t.name for t in SOURCE_TABLES if t.name not in present]
    if missing_sources:
        key = _run_key("sources", missing_sources, raw_versions)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=key,
                    asset_selection=SOURCE_ASSETS,
                    tags={"genre_assets/reason": f"missing: {', '.join(missing_sources)}"},
                )
            ]
        )

    order = list(context.instance.get_dynamic_partitions(GENRE_PARTITIONS_NAME))
    done = context.instance.get_materialized_partitions(dg.AssetKey("genre_film_export"))
    materialised = [g for g in order if g in done]
    if not materialised:
        return dg.SkipReason("no genre has been materialised yet; nothing can be stale")
    stale = _stale_genres(lake, catalog, materialised, max(o.modified for o in raw))
    if not stale:
        return dg.SkipReason(
            f"catalog {catalog.database_name()} is complete: both source tables and "
            f"{len(materialised)} genre table(s) are present and newer than the raw data"
        )
    positions = [order.index(g) for g in stale]
    start, end = order[min(positions)], order[max(positions)]
    key = _run_key("genres", sorted(stale), raw_versions)
    summary = "; ".join(f"{g}: {why}" for g, why in stale.items())
    context.log.info(f"Requesting a refresh of {start}...{end} because {summary}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=key,
                tags={**range_tags(start, end), "genre_assets/reason": summary[:200]},
            )
        ]
    )
