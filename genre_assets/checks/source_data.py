"""Checks on the raw data behind the columnar cache (local deployment), counted from the
ratings' per-file aggregates (no pass over the ratings themselves).

Rows the genre query cannot use are reported, not silently absorbed: ratings outside 0.5-5.0 are
left out of the averages, ratings of movies missing from movies.csv match no genre. Both are
warnings (the tables are still right for the valid rows). On EMR these counts would cost another
pass over the ratings on the cluster, so the aws deployment does not define them.
"""

import dagster as dg

from genre_assets.assets.columnar_cache import columnar_cache
from genre_assets.resources.local.duckdb_engine import DuckDBEngineResource


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            "ratings_in_range",
            asset=columnar_cache,
            description="Every rating lies within 0.5-5.0 (others are left out of the averages).",
        ),
        dg.AssetCheckSpec(
            "ratings_reference_known_movies",
            asset=columnar_cache,
            description="Every rating's movieId is in movies.csv (others match no genre).",
        ),
    ]
)
def source_data_checks(engine: DuckDBEngineResource):
    counts = engine.validate_sources()
    yield dg.AssetCheckResult(
        check_name="ratings_in_range",
        asset_key=columnar_cache.key,
        passed=counts["out_of_range"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"skipped_ratings": counts["out_of_range"], "ratings": counts["ratings"]},
        description=(
            f"{counts['out_of_range']} rating(s) outside 0.5-5.0 were left out of the averages"
            if counts["out_of_range"]
            else None
        ),
    )
    yield dg.AssetCheckResult(
        check_name="ratings_reference_known_movies",
        asset_key=columnar_cache.key,
        passed=counts["unknown_movie"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "ratings_of_unknown_movies": counts["unknown_movie"],
            "example_movie_ids": counts["unknown_movie_examples"],
        },
        description=(
            f"{counts['unknown_movie']} rating(s) refer to movieIds missing from movies.csv"
            if counts["unknown_movie"]
            else None
        ),
    )
