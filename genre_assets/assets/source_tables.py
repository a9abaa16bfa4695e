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

__all__ = ["GROUP", "film_database", "movies", "ratings", "recorded_genre_counts"]

# The asset key of `movies`, whose materialisations record the genre counts of the files read.
MOVIES_KEY = dg.AssetKey("movies")


def recorded_genre_counts(
    instance: dg.DagsterInstance, files: list[LakeObject]
) -> dict[str, int] | None:
    """The genre counts the latest `movies` materialisation recorded, when it read exactly these
    files at these versions (it validated them then: unchanged files validate the same); None
    otherwise, and the files must be read."""
    event = instance.get_latest_materialization_event(MOVIES_KEY)
    materialization = event.asset_materialization if event else None
    if materialization is None:
        return None
    recorded = materialization.metadata.get("source_versions")
    found = materialization.metadata.get("genres_found")
    if recorded is None or found is None or recorded.value != {f.key: f.version for f in files}:
        return None
    counts = found.value
    return {str(g): int(n) for g, n in counts.items()} if isinstance(counts, dict) else None


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
    # Files unchanged since the latest materialisation validated them are not parsed again.
    genre_counts = recorded_genre_counts(context.instance, files)
    movie_count = None
    if genre_counts is None:
        summary = summarize_movies(lake, files)
        genre_counts, movie_count = summary.genre_counts, summary.movie_count
    metadata = _source_table_metadata(lake, catalog, engine, MOVIES, files)
    # Whether the files were parsed in this run or are the ones an earlier run validated.
    metadata["validated_in_run"] = movie_count is not None
    metadata.update(engine.create_source_table(context.log, MOVIES))
    usable, unusable = usable_genres(genre_counts)
    if unusable:
        context.log.warning(f"Genre tokens that cannot be partitions: {unusable!r}")
    added = register_genres(context.instance, [*MOVIELENS_GENRES, *usable])
    if added:
        context.log.info(f"Added genre partitions: {', '.join(added)}")
    metadata["genres_found"] = dg.MetadataValue.json(dict(sorted(genre_counts.items())))
    if movie_count is None and "row_count" not in metadata:
        movie_count = _recorded_row_count(context.instance)
    if movie_count is not None:
        metadata.setdefault("row_count", movie_count)
    return dg.MaterializeResult(metadata=metadata)


def _recorded_row_count(instance: dg.DagsterInstance) -> int | None:
    event = instance.get_latest_materialization_event(MOVIES_KEY)
    entry = (
        event.asset_materialization.metadata.get("row_count")
        if event and event.asset_materialization
        else None
    )
    return int(str(entry.value)) if entry is not None else None


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
