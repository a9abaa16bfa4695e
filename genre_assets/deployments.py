"""Resource sets per deployment: `local` (folder lake, DuckDB catalog and engine) and later `aws`.

Values come from environment variables through `dg.EnvVar`, read when a run starts rather than
at import, so tests and the UI can build any deployment without reloading modules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from genre_assets.errors import ConfigurationError
from genre_assets.resources.catalog import LocalCatalogResource
from genre_assets.resources.duckdb_engine import DuckDBEngineResource
from genre_assets.resources.lake import LocalLakeResource

DEPLOYMENT_ENV = "GENRE_ASSETS_DEPLOYMENT"
DEFAULT_DEPLOYMENT = "local"

# Name -> (environment variable, default, meaning), listed in the README's configuration table.
SETTINGS: dict[str, tuple[str, str, str]] = {
    "lake": ("GENRE_ASSETS_LAKE", "./data/lake", "the lake: a folder (local)"),
    "catalog": ("GENRE_ASSETS_CATALOG", "", "the local catalog's DuckDB file (default <lake>/_catalog.duckdb)"),
    "database": ("GENRE_ASSETS_DATABASE", "movielens", "the catalog database's name"),
    "duckdb_threads": ("GENRE_ASSETS_DUCKDB_THREADS", "0", "DuckDB threads; 0 = one per core"),
    "duckdb_memory": ("GENRE_ASSETS_DUCKDB_MEMORY", "2GB", "DuckDB memory limit"),
}


def _env(name: str, *, as_int: bool = False) -> Any:
    """An EnvVar when the variable is set (resolved when a run starts), else the default.

    EnvVar raises on an unset variable, and the defaults are what a newcomer runs, so only the
    presence of the variable is looked at here.
    """
    variable, default, _ = SETTINGS[name]
    if variable in os.environ:
        return dg.EnvVar.int(variable) if as_int else dg.EnvVar(variable)
    return int(default) if as_int else default


def local_resources() -> dict[str, dg.ConfigurableResource]:
    lake = LocalLakeResource(path=_env("lake"))
    catalog = LocalCatalogResource(lake=lake, path=_env("catalog"), database=_env("database"))
    engine = DuckDBEngineResource(
        lake=lake,
        catalog=catalog,
        threads=_env("duckdb_threads", as_int=True),
        memory_limit=_env("duckdb_memory"),
    )
    return {"lake": lake, "catalog": catalog, "engine": engine}


_BUILDERS = {"local": local_resources}


def resources_for(deployment: str) -> Mapping[str, dg.ConfigurableResource]:
    try:
        builder = _BUILDERS[deployment]
    except KeyError:
        raise ConfigurationError(
            f"{DEPLOYMENT_ENV}={deployment!r} is not a deployment; choose one of: "
            f"{', '.join(sorted(_BUILDERS))}"
        ) from None
    return builder()
