"""Where the local engine's columnar cache lives and when an entry is still valid.

An entry is a Parquet file per source table named after a fingerprint of the raw files it was
made from (their keys and versions) and of the cached columns, so a changed, added or removed CSV
makes a new entry and the stale one is never read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from genre_assets.domain.schema import TableSpec
from genre_assets.resources.lake import LakeObject
from genre_assets.resources.local.lake import LocalLakeResource

CACHE_FOLDER = "_cache"


def fingerprint(table: TableSpec, files: list[LakeObject]) -> str:
    payload = {
        "columns": [(c.name, c.duckdb_type) for c in table.cache_columns],
        "files": sorted((f.key, f.version) for f in files),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def entry_path(lake: LocalLakeResource, table: TableSpec, files: list[LakeObject]) -> Path:
    return lake.local_path(f"{CACHE_FOLDER}/{table.name}/{fingerprint(table, files)}.parquet")


def stale_entries(current: Path) -> list[Path]:
    """Other entries of the same table: superseded once `current` exists."""
    return [p for p in current.parent.glob("*.parquet") if p != current]
