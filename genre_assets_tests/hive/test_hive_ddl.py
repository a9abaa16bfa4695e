"""Every Hive script the pipeline renders runs on Hive's DDL handling and metastore (Spark SQL with
Hive support), twice, and the metastore then holds exactly what `schema.STORAGE` declares: the
serde class, its SerDe parameters (the movies table's escapeChar is a NUL character), the input
and output formats, the header property and the column types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genre_assets import rendering
from genre_assets.domain import schema
from genre_assets.domain.schema import MOVIES, RATINGS, StorageFormat, TableSpec
from genre_assets.domain.targets import GenreTarget
from genre_assets_tests.hive.helpers import (
    describe_formatted,
    location,
    metastore_location,
    run_script,
    storage_parameters,
)

pytestmark = pytest.mark.hive

DATABASE = "movielens_ddl"
GENRES = ["Drama", "Children's", "(no genres listed)", "Sci-Fi"]
# A per-file rating aggregate: the Parquet table the EMR columnar cache defines.
CACHE_SPEC = schema.rating_aggregate_spec(
    "rating_agg_0123456789abcdef01234567", "_cache/rating_aggregates/x/run/"
)


def _specs() -> list[TableSpec]:
    return [MOVIES, RATINGS, *(GenreTarget(g).table_spec() for g in GENRES), CACHE_SPEC]


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    """{name: (rendered script, the folder its LOCATION names)}, every folder a file:// one."""
    lake = tmp_path_factory.mktemp("ddl_lake")
    out = {}
    warehouse = lake / "warehouse" / f"{DATABASE}.db"
    warehouse.mkdir(parents=True)
    out["create_database"] = (
        rendering.hive_create_database(DATABASE, location(warehouse)),
        warehouse,
    )
    for spec in _specs():
        folder = lake / spec.folder
        folder.mkdir(parents=True)
        out[spec.name] = (rendering.hive_create_table(DATABASE, spec, location(folder)), folder)
    return out


@pytest.fixture(scope="module")
def created(spark: Any, scripts: dict[str, tuple[str, Path]]) -> dict[str, int]:
    """Runs every script twice (the pipeline re-runs them on every materialisation); the number
    of statements of each."""
    counts = {}
    for name, (script, _) in scripts.items():
        run_script(spark, script)
        counts[name] = len(run_script(spark, script))
    return counts


def test_every_script_runs_twice(created: dict[str, int], scripts: dict[str, Any]) -> None:
    assert created.pop("create_database") == 1  # CREATE DATABASE IF NOT EXISTS
    assert created == {name: 2 for name in created}  # DROP TABLE IF EXISTS + CREATE EXTERNAL
    assert set(created) == {spec.name for spec in _specs()}
    assert {"children_s_films", "no_genres_listed_films", CACHE_SPEC.name} <= set(created)
    # The genre tables' column comment holds a ';' inside a string literal.
    assert "; NULL when it has none" in scripts["drama_films"][0]


def test_database(spark: Any, created: dict[str, int], scripts: dict[str, Any]) -> None:
    info = {r[0]: r[1] for r in spark.sql(f"DESCRIBE DATABASE EXTENDED {DATABASE}").collect()}
    assert info["Comment"] == "MovieLens film tables managed by genre-assets"
    assert info["Location"] == metastore_location(scripts["create_database"][1])


@pytest.mark.parametrize("spec", _specs(), ids=lambda s: s.name)
def test_metastore_holds_the_declared_storage(
    spark: Any, created: dict[str, int], scripts: dict[str, Any], spec: TableSpec
) -> None:
    storage = spec.storage.storage
    table = spark.catalog.getTable(f"{DATABASE}.{spec.name}")
    assert table.tableType == "EXTERNAL"
    info = describe_formatted(spark, DATABASE, spec.name)
    assert info["Serde Library"] == storage.serde
    assert info["InputFormat"] == storage.input_format
    assert info["OutputFormat"] == storage.output_format
    assert info["Location"] == metastore_location(scripts[spec.name][1])

    # Hive adds serialization.format=1 to every SERDE clause that does not set it.
    expected = {"serialization.format": "1", **storage.parameters}
    assert storage_parameters(spark, DATABASE, spec.name) == expected
    # DESCRIBE FORMATTED shows them as [k=v, ...] in the metastore's order.
    shown = info["Storage Properties"]
    entries = [f"{k}={v}" for k, v in expected.items()]
    assert shown.startswith("[") and shown.endswith("]")
    assert len(shown) == len("[" + ", ".join(entries) + "]")
    assert all(entry in shown for entry in entries), shown
    if spec.storage is StorageFormat.QUOTED_CSV:
        # The '\0' the DDL writes reaches the serde as ONE NUL character, not '\' or '0'.
        assert storage_parameters(spark, DATABASE, spec.name)["escapeChar"] == "\x00"
    if spec.storage is StorageFormat.ESCAPED_TSV:
        params = storage_parameters(spark, DATABASE, spec.name)
        assert (params["escape.delim"], params["field.delim"]) == ("\\", "\t")

    header = spark.sql(
        f"SHOW TBLPROPERTIES {DATABASE}.{spec.name}('skip.header.line.count')"
    ).collect()
    if storage.header_lines:
        assert [tuple(r) for r in header] == [("skip.header.line.count", str(storage.header_lines))]
        assert f"skip.header.line.count={storage.header_lines}" in info["Table Properties"]
    else:  # a Parquet table declares no header lines at all (docs/aws-fidelity.md)
        assert "does not have property" in header[0][1]
        assert "skip.header.line.count" not in info.get("Table Properties", "")

    columns = [
        (c.name, c.dataType, c.description)
        for c in spark.catalog.listColumns(f"{DATABASE}.{spec.name}")
    ]
    assert columns == [(c.name, spec.stored_type(c).lower(), c.comment) for c in spec.columns]
    assert [(name, info[name]) for name, _, _ in columns] == [
        (c.name, spec.stored_type(c).lower()) for c in spec.columns
    ]
