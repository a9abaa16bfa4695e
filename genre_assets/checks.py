"""Data-quality checks on the genre film tables, evaluated from the exported rows.

Checks are per asset, not per partition (Dagster's partitioned checks are a preview feature and
unavailable in single-run backfills), so each result covers every genre of the run and names the
genres that failed in its metadata.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal

import dagster as dg

from genre_assets.tsv import FilmRow

MIN_RATING = Decimal("0.5")
MAX_RATING = Decimal("5.0")

CHECK_SPECS_DOC = {
    "non_empty": "Each genre that occurs in movies.csv has at least one rated film.",
    "avg_rating_in_range": "Every avg_rating lies within 0.5-5.0 and every rating_count is >= 1.",
    "unique_movie_id": "No movie_id appears twice in a genre table.",
}


def check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name=name, asset=asset_key, description=description)
        for name, description in CHECK_SPECS_DOC.items()
    ]


def evaluate(
    rows_by_genre: Mapping[str, list[FilmRow]], genre_movie_counts: Mapping[str, int] | None
) -> list[dg.AssetCheckResult]:
    """The three check results for the genres of one run.

    `genre_movie_counts` comes from the movies table (None when unknown): an empty table for a
    genre that no movie has is a likely typo, while one whose films are all unrated is merely
    unusual, so `non_empty` fails with WARN severity either way and says which case it is.
    """
    empty = [g for g, rows in rows_by_genre.items() if not rows]
    unknown = [g for g in empty if genre_movie_counts is not None and not genre_movie_counts.get(g)]
    unrated = [g for g in empty if g not in unknown]
    out_of_range = {
        genre: [r.movie_id for r in rows if not (MIN_RATING <= r.avg_rating <= MAX_RATING) or r.rating_count < 1][:20]
        for genre, rows in rows_by_genre.items()
    }
    out_of_range = {g: ids for g, ids in out_of_range.items() if ids}
    duplicates = {
        genre: [movie_id for movie_id, n in Counter(r.movie_id for r in rows).items() if n > 1][:20]
        for genre, rows in rows_by_genre.items()
    }
    duplicates = {g: ids for g, ids in duplicates.items() if ids}
    row_counts = {g: len(rows) for g, rows in rows_by_genre.items()}
    return [
        dg.AssetCheckResult(
            check_name="non_empty",
            passed=not empty,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "row_counts": dg.MetadataValue.json(row_counts),
                "genres_not_in_movies": unknown,
                "genres_without_rated_films": unrated,
            },
            description=_describe_empty(unknown, unrated),
        ),
        dg.AssetCheckResult(
            check_name="avg_rating_in_range",
            passed=not out_of_range,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"offending_movie_ids": dg.MetadataValue.json(out_of_range)},
        ),
        dg.AssetCheckResult(
            check_name="unique_movie_id",
            passed=not duplicates,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"duplicate_movie_ids": dg.MetadataValue.json(duplicates)},
        ),
    ]


def _describe_empty(unknown: list[str], unrated: list[str]) -> str | None:
    parts = []
    if unknown:
        parts.append(f"no movie has the genre(s) {', '.join(map(repr, unknown))}: check the spelling")
    if unrated:
        parts.append(f"no film of {', '.join(map(repr, unrated))} has a rating")
    return "; ".join(parts) or None
