"""Local test helpers: the golden fixture, local resources and a helper to materialise genres."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
import pytest

from genre_assets.assets import ALL_ASSETS
from genre_assets.checks.source_data import source_data_checks
from genre_assets.partitions import range_tags
from genre_assets.resources.local.catalog import LocalCatalogResource
from genre_assets.resources.local.duckdb_engine import DuckDBEngineResource
from genre_assets.resources.local.lake import LocalLakeResource

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "genre_assets_tests" / "fixtures"


@pytest.fixture
def golden_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    shutil.copytree(FIXTURES / "golden_lake", lake)
    return lake


def local_resources(lake: Path) -> dict[str, dg.ConfigurableResource]:
    lake_resource = LocalLakeResource(path=str(lake))
    catalog = LocalCatalogResource(lake=lake_resource)
    # Two threads keep tests deterministic in speed on the 2-core CI machine.
    engine = DuckDBEngineResource(
        lake=lake_resource, catalog=catalog, threads=2, memory_limit="1GB"
    )
    return {"lake": lake_resource, "catalog": catalog, "engine": engine}


def materialize_genres(
    lake: Path,
    genres: Sequence[str],
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise every asset for `genres`, registered in this order so they form one range."""
    if instance is None:
        with dg.DagsterInstance.ephemeral() as owned:
            return materialize_genres(
                lake, genres, raise_on_error=raise_on_error, instance=owned, tags=tags
            )
    known = set(instance.get_dynamic_partitions("genre"))
    instance.add_dynamic_partitions("genre", [g for g in genres if g not in known])
    return dg.materialize(
        [*ALL_ASSETS, source_data_checks],
        resources=local_resources(lake),
        instance=instance,
        tags={**(tags or {}), **range_tags(genres[0], genres[-1])},
        raise_on_error=raise_on_error,
    )
