"""Every setting a user can change: its environment variable, its default and what it means.

This is the one home of the defaults: resource fields take their defaults from here, the
deployments read the variables through `Setting.value()`, and a test holds the
configuration table in docs/configuration.md to this list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import dagster as dg

from genre_assets.errors import ConfigurationError

DEPLOYMENT_ENV = "GENRE_ASSETS_DEPLOYMENT"
DEFAULT_DEPLOYMENT = "local"


@dataclass(frozen=True)
class Setting:
    variable: str
    default: str  # "" means: derived at run time, as `meaning` says
    meaning: str
    choices: tuple[str, ...] = ()  # when set, the only values the setting accepts

    def check(self, value: str) -> str:
        """`value` when it is one of `choices` (any value when there are none), else an error
        naming the variable and what it accepts."""
        if self.choices and value not in self.choices:
            raise ConfigurationError(
                f"{self.variable}={value!r} is not allowed: choose one of {', '.join(self.choices)}"
            )
        return value

    def value(self, *, as_int: bool = False) -> Any:
        """An EnvVar when the variable is set (resolved when a run starts), else the default.

        EnvVar raises on an unset variable, and the defaults are what a newcomer runs, so only
        the presence of the variable is looked at here, never its value.
        """
        if self.variable in os.environ:
            return dg.EnvVar.int(self.variable) if as_int else dg.EnvVar(self.variable)
        return int(self.default) if as_int else self.default

    @property
    def default_int(self) -> int:
        return int(self.default)


SETTINGS: dict[str, Setting] = {
    setting.variable.removeprefix("GENRE_ASSETS_").lower(): setting
    for setting in (
        Setting(
            "GENRE_ASSETS_LAKE",
            "./data/lake",
            "the lake: a folder (local) or s3://bucket[/prefix] (aws)",
        ),
        Setting(
            "GENRE_ASSETS_CATALOG",
            "",
            "the local catalog's DuckDB file (default <lake>/_catalog.duckdb)",
        ),
        Setting("GENRE_ASSETS_DATABASE", "movielens", "the catalog database's name"),
        Setting("GENRE_ASSETS_DUCKDB_THREADS", "0", "DuckDB threads; 0 = one per core"),
        Setting("GENRE_ASSETS_DUCKDB_MEMORY", "2GB", "DuckDB memory limit"),
        Setting(
            "GENRE_ASSETS_AWS_REGION", "", "AWS region (default: boto3's, e.g. AWS_DEFAULT_REGION)"
        ),
        Setting("GENRE_ASSETS_EMR_RELEASE", "emr-6.15.0", "EMR release label"),
        Setting("GENRE_ASSETS_EMR_LOG_URI", "", "EMR logs (default <lake>/emr-logs/)"),
        Setting("GENRE_ASSETS_EMR_SERVICE_ROLE", "EMR_DefaultRole", "EMR service role"),
        Setting("GENRE_ASSETS_EMR_INSTANCE_PROFILE", "EMR_EC2_DefaultRole", "EC2 instance profile"),
        Setting("GENRE_ASSETS_EMR_JOB_FLOW_OVERRIDES", "", "JSON deep-merged into RunJobFlow"),
        Setting("GENRE_ASSETS_EMR_POLL_SECONDS", "15", "step polling interval, whole seconds"),
        Setting(
            "GENRE_ASSETS_EMR_PRICES",
            "",
            "USD/hour per instance type as JSON for cost metadata (default: us-east-1 list prices)",
        ),
        Setting(
            "GENRE_ASSETS_DEPLOYMENT_NAME",
            "",
            "aws: owner tag of this deployment's EMR clusters; its janitor touches no other "
            "(default: an id kept in the Dagster instance)",
        ),
        Setting(
            "GENRE_ASSETS_EMR_LEASE_SECONDS",
            "300",
            "aws: a cluster whose run stops renewing its lease for this long is terminated",
        ),
        Setting(
            "GENRE_ASSETS_EMR_MAX_RUN_SECONDS",
            "21600",
            "aws: hard time limit of a run holding a cluster; the cluster is then terminated",
        ),
        Setting(
            "GENRE_ASSETS_EMR_COLUMNAR_CACHE",
            "0",
            "1: per-file rating aggregates as Parquet in the lake (Hive DDL, then one INSERT per "
            "new or changed ratings file by PrestoDB or Trino)",
        ),
        Setting(
            "GENRE_ASSETS_EMR_SQL_ENGINE",
            "presto",
            "aws: the EMR application that runs the genre query, PrestoDB (presto) or Trino",
            choices=("presto", "trino"),
        ),
        Setting(
            "GENRE_ASSETS_AWS_ENGINE",
            "emr",
            "aws: the engine of the SQL, a transient EMR cluster (emr) or Athena (no cluster)",
            choices=("emr", "athena"),
        ),
        Setting("GENRE_ASSETS_ATHENA_WORKGROUP", "primary", "aws: the Athena workgroup"),
        Setting(
            "GENRE_ASSETS_ATHENA_OUTPUT_LOCATION",
            "",
            "aws: where Athena writes query results (default <lake>/athena-results/)",
        ),
    )
}
