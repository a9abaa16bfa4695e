"""Resource sets per deployment: `local` (folder lake, DuckDB catalog and engine) and `aws`
(S3 lake, Glue catalog, and the EMR or Athena engine as GENRE_ASSETS_AWS_ENGINE says).

Values come from environment variables through `dg.EnvVar`, read when a run starts rather than
at import, so tests and the UI can build any deployment without reloading modules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from genre_assets.errors import ConfigurationError
from genre_assets.resources.local.catalog import LocalCatalogResource
from genre_assets.resources.local.duckdb_engine import DuckDBEngineResource
from genre_assets.resources.local.lake import LocalLakeResource
from genre_assets.settings import DEPLOYMENT_ENV, SETTINGS


def local_resources() -> dict[str, dg.ConfigurableResource]:
    lake = LocalLakeResource(path=SETTINGS["lake"].value())
    catalog = LocalCatalogResource(
        lake=lake, path=SETTINGS["catalog"].value(), database=SETTINGS["database"].value()
    )
    engine = DuckDBEngineResource(
        lake=lake,
        catalog=catalog,
        threads=SETTINGS["duckdb_threads"].value(as_int=True),
        memory_limit=SETTINGS["duckdb_memory"].value(),
    )
    return {"lake": lake, "catalog": catalog, "engine": engine}


def aws_resources() -> dict[str, dg.ConfigurableResource]:
    # Imported here: dagster-aws and boto3 take ~0.4 s to import, which every local run,
    # CLI call and code-server start would otherwise pay for nothing.
    from dagster_aws.s3 import S3Resource

    from genre_assets.resources.aws.athena_engine import AthenaEngineResource
    from genre_assets.resources.aws.clients import AwsClientsResource
    from genre_assets.resources.aws.emr_engine import EMREngineResource
    from genre_assets.resources.aws.glue_catalog import GlueCatalogResource
    from genre_assets.resources.aws.s3_lake import S3LakeResource

    aws = AwsClientsResource(region_name=SETTINGS["aws_region"].value() or None)
    lake = S3LakeResource(
        uri_root=SETTINGS["lake"].value(),
        s3=S3Resource(region_name=SETTINGS["aws_region"].value() or None),
    )
    catalog = GlueCatalogResource(aws=aws, database=SETTINGS["database"].value())
    engine: dg.ConfigurableResource
    if aws_engine() == "athena":
        engine = AthenaEngineResource(
            lake=lake,
            catalog=catalog,
            aws=aws,
            workgroup=SETTINGS["athena_workgroup"].value(),
            output_location=SETTINGS["athena_output_location"].value(),
        )
        return {"lake": lake, "catalog": catalog, "engine": engine}
    engine = EMREngineResource(
        lake=lake,
        catalog=catalog,
        aws=aws,
        release_label=SETTINGS["emr_release"].value(),
        log_uri=SETTINGS["emr_log_uri"].value(),
        service_role=SETTINGS["emr_service_role"].value(),
        job_flow_role=SETTINGS["emr_instance_profile"].value(),
        job_flow_overrides=SETTINGS["emr_job_flow_overrides"].value(),
        poll_seconds=SETTINGS["emr_poll_seconds"].value(as_int=True),
        columnar_cache=SETTINGS["emr_columnar_cache"].value(as_int=True),
        sql_engine=SETTINGS["emr_sql_engine"].value(),
        prices=SETTINGS["emr_prices"].value(),
        deployment_name=SETTINGS["deployment_name"].value(),
        lease_seconds=SETTINGS["emr_lease_seconds"].value(as_int=True),
        max_run_seconds=SETTINGS["emr_max_run_seconds"].value(as_int=True),
    )
    return {"lake": lake, "catalog": catalog, "engine": engine}


def aws_engine() -> str:
    """GENRE_ASSETS_AWS_ENGINE, checked: it picks the engine's resource class when the
    definitions are built, so an unknown value is refused here, naming the choices."""
    setting = SETTINGS["aws_engine"]
    return setting.check(os.environ.get(setting.variable, setting.default))


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
