"""The code location: assets, checks, sensors and jobs bound to one deployment's resources.

The deployment is read at import time (GENRE_ASSETS_DEPLOYMENT, default `local`), and for `aws`
its engine (GENRE_ASSETS_AWS_ENGINE); `build_definitions` builds any deployment for tests and tools.
"""

from __future__ import annotations

import os

import dagster as dg

from genre_assets.assets import ALL_ASSETS
from genre_assets.checks.source_data import source_data_checks
from genre_assets.cli.progress import cli_progress_logger
from genre_assets.deployments import aws_engine, resources_for
from genre_assets.jobs import all_genres_job
from genre_assets.schedules import nightly_refresh
from genre_assets.sensors.catalog_check import catalog_check_sensor
from genre_assets.sensors.partition_seeder import genre_partition_seeder
from genre_assets.sensors.raw_data_observer import raw_data_observer
from genre_assets.settings import DEFAULT_DEPLOYMENT, DEPLOYMENT_ENV


def build_definitions(deployment: str = DEFAULT_DEPLOYMENT) -> dg.Definitions:
    sensors = [genre_partition_seeder, raw_data_observer, catalog_check_sensor]
    checks = [source_data_checks] if deployment == "local" else []
    if deployment == "aws" and aws_engine() == "emr":
        # Only here: it imports the AWS resources, which a local deployment never loads. Athena
        # starts no cluster, so the Athena engine has no janitor.
        from genre_assets.sensors.emr_janitor import emr_janitor

        sensors.append(emr_janitor)
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=checks,
        jobs=[all_genres_job],
        sensors=sensors,
        schedules=[nightly_refresh],
        resources=dict(resources_for(deployment)),
        # Used only when a run's config selects it (the CLI); other runs keep Dagster's console.
        loggers={"cli_progress": cli_progress_logger},
        # One process per run: steps share the run's resources (on AWS, its one EMR cluster)
        # and nothing pays a subprocess start-up per step.
        executor=dg.in_process_executor,
    )


defs = build_definitions(os.environ.get(DEPLOYMENT_ENV, DEFAULT_DEPLOYMENT))
