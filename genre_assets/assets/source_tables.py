"""The film database and the two source tables over the raw MovieLens CSVs.

`movies` and `ratings` depend on the observable raw folders (`raw_movies`, `raw_ratings`), so each
materialisation records the raw data version it was built from and turns stale when a newer one
is observed.
"""

from typing import Any

import dagster as dg

from genre_assets.assets.raw_sources import GROUP, raw_movies, raw_ratings
from genre_assets.domain.genres import MOVIELENS_GENRES, usable_genres
from genre_assets.domain.schema import MOVIES, RATINGS, TableSpec
from genre_assets.partitions import register_genres
from genre_assets.resources.catalog import CatalogResource
from genre_assets.resources.engine import EngineResource
from genre_assets.resources.lake import LakeObject, LakeResource
from genre_assets.resources.raw_files import source_files, summarize_movies

__all__ = ["GROUP", "film_database", "movies", "ratings"]


@dg.asset(
    group_name=GROUP,
    kinds={"sql"},
    description="The database in the catalog (Glue on AWS) that holds every film table.",
)
def film_database(
    context: dg.AssetExecutionContext, engine: EngineResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    metadata = dict(engine.create_database(context.log))
    return dg.MaterializeResult(
        metadata={**metadata, "database": catalog.database_name(), "engine": engine.engine_name}
    )


def _source_table_metadata(
    lake: LakeResource,
    catalog: CatalogResource,
    engine: EngineResource,
    table: TableSpec,
    files: list[LakeObject],
) -> dict[str, Any]:
    return {
        "table": f"{catalog.database_name()}.{table.name}",
        "location": dg.MetadataValue.path(lake.uri(table.folder)),
        "files": [f.key for f in files],
        "total_bytes": sum(f.size for f in files),
        # The raw files' versions: a later change to any of them makes this table stale.
        "source_versions": {f.key: f.version for f in files},
        "engine": engine.engine_name,
    }


@dg.asset(
    group_name=GROUP,
    deps=[film_database, raw_movies],
    kinds={"sql", "csv"},
    description="Catalog table `movies` over the lake's movielens/movies/*.csv.",
)
def movies(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    catalog: CatalogResource,
    engine: EngineResource,
) -> dg.MaterializeResult:
    files = source_files(lake, MOVIES)
    # Validated before the table is (re)defined: a bad file leaves the previous table in place.
    summary = summarize_movies(lake, files)
    metadata = _source_table_metadata(lake, catalog, engine, MOVIES, files)
    metadata.update(engine.create_source_table(context.log, MOVIES))
    usable, unusable = usable_genres(summary.genre_counts)
    if unusable:
        context.log.warning(f"Genre tokens that cannot be partitions: {unusable!r}")
    added = register_genres(context.instance, [*MOVIELENS_GENRES, *usable])
    if added:
        context.log.info(f"Added genre partitions: {', '.join(added)}")
    metadata["genres_found"] = dg.MetadataValue.json(dict(sorted(summary.genre_counts.items())))
    metadata.setdefault("row_count", summary.movie_count)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=GROUP,
    deps=[film_database, raw_ratings],
    kinds={"sql", "csv"},
    description="Catalog table `ratings` over the lake's movielens/ratings/*.csv.",
)
def ratings(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    catalog: CatalogResource,
    engine: EngineResource,
) -> dg.MaterializeResult:
    files = source_files(lake, RATINGS)
    metadata = _source_table_metadata(lake, catalog, engine, RATINGS, files)
    metadata.update(engine.create_source_table(context.log, RATINGS))
    return dg.MaterializeResult(metadata=metadata)
