"""The genre partitions: dynamic, so any genre found in the data (e.g. `Children's`) can be one.

The MovieLens vocabulary is registered up front (by the seeding sensor, the CLI and the movies
asset); genres discovered in movies.csv are added when the movies table is materialised.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from genre_assets.domain.genres import MOVIELENS_GENRES, ordered_genres, validate_genre

GENRE_PARTITIONS_NAME = "genre"

genre_partitions = dg.DynamicPartitionsDefinition(name=GENRE_PARTITIONS_NAME)


def missing_genres(instance: dg.DagsterInstance, genres: Iterable[str]) -> list[str]:
    """Valid genres from `genres` that are not partitions yet, vocabulary order first."""
    existing = set(instance.get_dynamic_partitions(GENRE_PARTITIONS_NAME))
    wanted = [validate_genre(g) for g in genres]
    return [g for g in ordered_genres(wanted) if g not in existing]


def register_genres(instance: dg.DagsterInstance, genres: Iterable[str]) -> list[str]:
    """Add the genres that are not partitions yet; returns the ones added."""
    added = missing_genres(instance, genres)
    if added:
        instance.add_dynamic_partitions(GENRE_PARTITIONS_NAME, added)
    return added


def register_vocabulary(instance: dg.DagsterInstance) -> list[str]:
    return register_genres(instance, MOVIELENS_GENRES)


def range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make one run cover the partitions `start`...`end` (single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": start,
        "dagster/asset_partition_range_end": end,
    }
