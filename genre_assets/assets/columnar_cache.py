"""The columnar cache: the source tables in the compact form the genre query reads, keyed to the
raw files.

Locally: `movies` as Parquet, and for each ratings file its per-movie rating sums and counts
(resources/local/rating_aggregates.py), so an unchanged file is never read again and a new one
is read alone. On EMR (GENRE_ASSETS_EMR_COLUMNAR_CACHE=1): the same per-file aggregates as Parquet
tables in the lake, each filled by an INSERT that reads its file alone; Athena keeps none. Engines
fall back to the CSVs when the cache is missing or stale, so it only ever changes speed.
"""

import dagster as dg

from genre_assets.assets.raw_sources import RAW_SOURCES
from genre_assets.assets.source_tables import GROUP, movies, ratings
from genre_assets.resources.engine import EngineResource


@dg.asset(
    group_name=GROUP,
    # The raw folders too: Dagster marks an asset stale only when a *direct* dependency has new
    # data, and this cache is built from the raw files (raw_sources.py).
    deps=[movies, ratings, *RAW_SOURCES],
    kinds={"parquet"},
    description=(
        "The sources in the form the genre query reads (locally: movies as Parquet, per-file "
        "rating aggregates), rebuilt only for the raw files that changed."
    ),
)
def columnar_cache(
    context: dg.AssetExecutionContext, engine: EngineResource
) -> dg.MaterializeResult:
    metadata = dict(engine.build_columnar_cache(context.log))
    return dg.MaterializeResult(metadata={**metadata, "engine": engine.engine_name})
