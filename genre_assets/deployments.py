"""Resource sets per deployment: `local` (folder lake, DuckDB catalog and engine) and `aws`
(S3 lake, Glue catalog, EMR engine).

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
    "lake": ("GENRE_ASSETS_LAKE", "./data/lake", "the lake: a folder (local) or s3://bucket[/prefix] (aws)"),
    "catalog": ("GENRE_ASSETS_CATALOG", "", "the local catalog's DuckDB file (default <lake>/_catalog.duckdb)"),
    "database": ("GENRE_ASSETS_DATABASE", "movielens", "the catalog database's name"),
    "duckdb_threads": ("GENRE_ASSETS_DUCKDB_THREADS", "0", "DuckDB threads; 0 = one per core"),
    "duckdb_memory": ("GENRE_ASSETS_DUCKDB_MEMORY", "2GB", "DuckDB memory limit"),
    "aws_region": ("GENRE_ASSETS_AWS_REGION", "", "AWS region (default: boto3's, e.g. AWS_DEFAULT_REGION)"),
    "emr_release": ("GENRE_ASSETS_EMR_RELEASE", "emr-6.15.0", "EMR release label"),
    "emr_log_uri": ("GENRE_ASSETS_EMR_LOG_URI", "", "EMR logs (default <lake>/emr-logs/)"),
    "emr_service_role": ("GENRE_ASSETS_EMR_SERVICE_ROLE", "EMR_DefaultRole", "EMR service role"),
    "emr_instance_profile": ("GENRE_ASSETS_EMR_INSTANCE_PROFILE", "EMR_EC2_DefaultRole", "EC2 instance profile"),
    "emr_overrides": ("GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES", "", "JSON deep-merged into RunJobFlow"),
    "emr_poll_seconds": ("GENRE_ASSETS_EMR_POLL_SECONDS", "15", "step polling interval, whole seconds"),
    "emr_columnar_cache": ("GENRE_ASSETS_EMR_COLUMNAR_CACHE", "0", "1: ratings as Parquet in the lake (Presto CTAS)"),
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


def aws_resources() -> dict[str, dg.ConfigurableResource]:
    # Imported here: dagster-aws and boto3 take ~0.4 s to import, which every local run,
    # CLI call and code-server start would otherwise pay for nothing.
    from dagster_aws.s3 import S3Resource

    from genre_assets.resources.aws import AwsClientsResource
    from genre_assets.resources.emr_engine import EMREngineResource
    from genre_assets.resources.glue_catalog import GlueCatalogResource
    from genre_assets.resources.s3_lake import S3LakeResource

    aws = AwsClientsResource(region_name=_env("aws_region") or None)
    lake = S3LakeResource(uri_root=_env("lake"), s3=S3Resource(region_name=_env("aws_region") or None))
    catalog = GlueCatalogResource(aws=aws, database=_env("database"))
    engine = EMREngineResource(
        lake=lake,
        catalog=catalog,
        aws=aws,
        release_label=_env("emr_release"),
        log_uri=_env("emr_log_uri"),
        service_role=_env("emr_service_role"),
        job_flow_role=_env("emr_instance_profile"),
        job_flow_overrides=_env("emr_overrides"),
        poll_seconds=_env("emr_poll_seconds", as_int=True),
        columnar_cache=_env("emr_columnar_cache", as_int=True),
    )
    return {"lake": lake, "catalog": catalog, "engine": engine}


_BUILDERS = {"local": local_resources, "aws": aws_resources}


def resources_for(deployment: str) -> Mapping[str, dg.ConfigurableResource]:
    try:
        builder = _BUILDERS[deployment]
    except KeyError:
        raise ConfigurationError(
            f"{DEPLOYMENT_ENV}={deployment!r} is not a deployment; choose one of: "
            f"{', '.join(sorted(_BUILDERS))}"
        ) from None
    return builder()
