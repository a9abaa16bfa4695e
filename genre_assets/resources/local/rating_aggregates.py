"""The local engine's per-file rating aggregates: where each entry lives and which are current.

The genre tables need, per film, only the sum and the count of its ratings; the source checks,
only counts. So each ratings file gets one small Parquet entry of per-movie sums and counts
(`sql/duckdb/write_rating_aggregate.sql.j2`), named after the file's key and version: a file
whose version is unchanged is never read again, a new or changed file is aggregated alone, and
the entry of a removed or changed file is dropped once the current ones exist.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from genre_assets.resources.lake import LakeObject
from genre_assets.resources.local.lake import LocalLakeResource

FOLDER = "_cache/rating_aggregates"
# Part of every entry's name: a change to what an entry holds makes new entries, never a misread.
FORMAT = "movie_id,rating_sum decimal(38,6),rated,ratings/v1"
# The view the genre query and the checks read the current entries through.
VIEW = "rating_aggregates"


def entry_path(lake: LocalLakeResource, obj: LakeObject) -> Path:
    payload = json.dumps({"key": obj.key, "version": obj.version, "format": FORMAT})
    digest = hashlib.sha256(payload.encode()).hexdigest()[:24]
    return lake.local_path(f"{FOLDER}/{digest}.parquet")


def stale_entries(lake: LocalLakeResource, current: set[Path]) -> list[Path]:
    """Entries of files that are gone or have changed: superseded by `current`."""
    folder = lake.local_path(FOLDER)
    return [p for p in folder.glob("*.parquet") if p not in current] if folder.is_dir() else []
