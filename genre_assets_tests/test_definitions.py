"""The code location loads, and its parts are wired as the README describes."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from genre_assets.cli.launcher import contiguous_ranges
from genre_assets.definitions import build_definitions
from genre_assets.domain.genres import MOVIELENS_GENRES
from genre_assets.errors import ConfigurationError
from genre_assets.sensors.partition_seeder import genre_partition_seeder
from genre_assets_tests.support.local import REPO_ROOT as ROOT


def test_local_definitions_hold_the_asset_graph():
    defs = build_definitions("local")
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {
        "raw_movies",
        "raw_ratings",
        "film_database",
        "movies",
        "ratings",
        "columnar_cache",
        "genre_film_export",
        "genre_film_table",
    }
    export = graph.get(dg.AssetKey("genre_film_export"))
    assert isinstance(export.partitions_def, dg.DynamicPartitionsDefinition)
    assert export.backfill_policy == dg.BackfillPolicy.single_run()
    assert graph.get(dg.AssetKey("genre_film_table")).parent_keys == {
        dg.AssetKey("genre_film_export"),
        # Direct data-version edges: Dagster's staleness does not pass through genre_film_export.
        dg.AssetKey("raw_movies"),
        dg.AssetKey("raw_ratings"),
    }
    assert graph.get(dg.AssetKey("raw_ratings")).is_observable
    assert graph.get(dg.AssetKey("ratings")).parent_keys == {
        dg.AssetKey("film_database"),
        dg.AssetKey("raw_ratings"),
    }


def test_unknown_deployment_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="choose one of: aws, local"):
        build_definitions("azure")


def test_seeder_registers_the_vocabulary_once():
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance) as context:
            result = genre_partition_seeder(context)
        (request,) = result.dynamic_partitions_requests
        assert list(request.partition_keys) == list(MOVIELENS_GENRES)
        instance.add_dynamic_partitions("genre", list(request.partition_keys))
        with dg.build_sensor_context(instance=instance) as context:
            assert isinstance(genre_partition_seeder(context), dg.SkipReason)


def test_contiguous_ranges():
    order = ["a", "b", "c", "d", "e"]
    assert contiguous_ranges(order, ["a", "b", "c"]) == [("a", "c")]
    assert contiguous_ranges(order, ["e", "a", "b"]) == [("a", "b"), ("e", "e")]
    assert contiguous_ranges(order, ["d"]) == [("d", "d")]


def test_workspace_loads_with_the_dagster_cli(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "genre_assets" in done.stdout + done.stderr


def test_the_local_code_location_never_imports_aws_libraries():
    # dagster-aws and boto3 cost ~0.4 s to import: every local CLI call, code-server start and
    # run worker would pay it. A fresh interpreter, since this test process imported them already.
    code = (
        "import sys, genre_assets.definitions as d; d.build_definitions('local'); "
        "print(sorted(m for m in ('dagster_aws', 'boto3', 'botocore', 'moto') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "GENRE_ASSETS_DEPLOYMENT"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_configuration_table_lists_every_setting_with_its_default():
    from genre_assets.settings import DEPLOYMENT_ENV, SETTINGS

    table = (ROOT / "docs" / "configuration.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in table.splitlines()
        if line.startswith("| `")
    }
    assert DEPLOYMENT_ENV in rows
    for setting in SETTINGS.values():
        assert setting.variable in rows, f"{setting.variable} is missing from docs/configuration.md"
        if setting.default:
            assert f"`{setting.default}`" in rows[setting.variable], (
                setting,
                rows[setting.variable],
            )


def test_resource_field_defaults_are_the_settings_defaults():
    """A resource built without the variables set runs with the defaults the README documents."""
    from genre_assets.resources.aws.emr_engine import EMREngineResource
    from genre_assets.resources.catalog import CatalogResource
    from genre_assets.resources.local.duckdb_engine import DuckDBEngineResource
    from genre_assets.settings import SETTINGS

    fields = {
        "database": CatalogResource.model_fields["database"],
        "duckdb_threads": DuckDBEngineResource.model_fields["threads"],
        "duckdb_memory": DuckDBEngineResource.model_fields["memory_limit"],
        "emr_release": EMREngineResource.model_fields["release_label"],
        "emr_service_role": EMREngineResource.model_fields["service_role"],
        "emr_instance_profile": EMREngineResource.model_fields["job_flow_role"],
        "emr_job_flow_overrides": EMREngineResource.model_fields["job_flow_overrides"],
        "emr_poll_seconds": EMREngineResource.model_fields["poll_seconds"],
        "emr_columnar_cache": EMREngineResource.model_fields["columnar_cache"],
        "emr_log_uri": EMREngineResource.model_fields["log_uri"],
    }
    for name, field in fields.items():
        assert str(field.default) == SETTINGS[name].default, (name, field.default)
