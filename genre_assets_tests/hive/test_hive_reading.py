"""The golden lake read back through Hive's own serdes (OpenCSVSerde for movies, LazySimpleSerDe
for ratings and the genre exports), over the tables the rendered Hive DDL defines, compared row by
row with what the local engine reads (the DuckDB views of its catalog after a materialisation) and
with the emulator's model of Hive (`hive_serde.read_rows`).

Spark does not honour `skip.header.line.count`, so the header line comes back as the first row:
each test checks that it reads as expected there and nowhere else, then drops it.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from genre_assets import rendering
from genre_assets.domain.schema import MOVIES, RATINGS, TableSpec
from genre_assets.domain.targets import GenreTarget
from genre_assets.resources.local.catalog import LocalCatalogResource
from genre_assets_emulator import hive_serde
from genre_assets_tests.hive.helpers import (
    comparable,
    hive_rows,
    location,
    row_diff,
    run_script,
)
from genre_assets_tests.support.local import FIXTURES, local_resources, materialize_genres

pytestmark = pytest.mark.hive

# As in genre_assets_tests/test_golden.py.
GENRES = ["Comedy", "Drama", "Children", "Children's", "(no genres listed)", "Sci-Fi", "Action"]
TARGETS = [GenreTarget(g) for g in GENRES]
SPECS: dict[str, TableSpec] = {
    MOVIES.name: MOVIES,
    RATINGS.name: RATINGS,
    **{t.table: t.table_spec() for t in TARGETS},
}
# The header line of each table as the serde reads it (typed columns that do not parse are NULL).
HEADERS = {
    MOVIES.name: ("movieId", "title", "genres"),
    RATINGS.name: (None, None, None, None),
    **{t.table: (None, "title", None, None, None) for t in TARGETS},
}
CRLF = "_crlf"  # suffix of the tables over the CRLF copies


class GoldenLake:
    def __init__(self, root: Path, database: str, catalog_file: Path) -> None:
        self.root = root
        self.database = database
        self.catalog_file = catalog_file

    def local_rows(self, table: str) -> list[tuple[Any, ...]]:
        """What the local engine reads: its catalog's view, in file order."""
        with duckdb.connect(str(self.catalog_file), read_only=True) as con:
            return con.execute(f"SELECT * FROM {self.database}.{table}").fetchall()

    def files(self, spec: TableSpec) -> list[Path]:
        return sorted((self.root / spec.folder).glob(f"*{spec.file_suffix}"))


def _crlf_spec(spec: TableSpec) -> TableSpec:
    return dataclasses.replace(
        spec, name=spec.name + CRLF, folder=spec.folder.rstrip("/") + CRLF + "/"
    )


@pytest.fixture(scope="module")
def golden(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> GoldenLake:
    """The golden lake after the local engine's run (catalog views, one TSV per genre), its CRLF
    copies, and Hive tables over all of them, created by the rendered Hive DDL."""
    root = tmp_path_factory.mktemp("golden") / "lake"
    shutil.copytree(FIXTURES / "golden_lake", root)
    result = materialize_genres(root, GENRES)
    assert result.success
    catalog = local_resources(root)["catalog"]
    assert isinstance(catalog, LocalCatalogResource)
    lake = GoldenLake(root, catalog.database_name(), catalog.file())

    scripts = [rendering.hive_create_database(lake.database, location(root / "warehouse"))]
    for spec in SPECS.values():
        crlf = _crlf_spec(spec)
        (root / crlf.folder).mkdir(parents=True)
        for path in lake.files(spec):
            data = path.read_bytes()
            assert b"\r" not in data  # the golden files are LF-only
            (root / crlf.folder / path.name).write_bytes(data.replace(b"\n", b"\r\n"))
        for table in (spec, crlf):
            folder = location(root / table.folder)
            scripts.append(rendering.hive_create_table(lake.database, table, folder))
    for script in scripts:
        run_script(spark, script)
    return lake


def drop_header(rows: list[tuple[Any, ...]], table: str) -> list[tuple[Any, ...]]:
    """Spark ignores skip.header.line.count: the header must be the first row, and only there."""
    header = HEADERS[table.removesuffix(CRLF)]
    assert rows[:1] == [header], f"{table}: the first row is not the header: {rows[:1]!r}"
    assert header not in rows[1:], f"{table}: a second header row"
    return rows[1:]


def show(title: str, diff: list[tuple[list, list]]) -> str:
    lines = [f"{title}: {len(diff)} differing block(s)"]
    for hive_part, local_part in diff:
        lines.append(f"  hive : {hive_part!r}\n  local: {local_part!r}")
    return "\n".join(lines)


@pytest.mark.parametrize("table", list(SPECS))
def test_hive_reads_what_the_local_engine_reads(spark: Any, golden: GoldenLake, table: str) -> None:
    rows = drop_header(hive_rows(spark, golden.database, table), table)
    # Whole-number columns are DOUBLE in Hive (so LazyLong never truncates 1.5 into another id)
    # and BIGINT locally once they are known to be whole: the same numbers.
    whole = [c.name in SPECS[table].whole_number_columns for c in SPECS[table].columns]
    local = [
        tuple(
            float(v) if is_whole and v is not None else v
            for v, is_whole in zip(row, whole, strict=True)
        )
        for row in golden.local_rows(table)
    ]
    assert rows, table
    diff = row_diff(comparable(rows), comparable(local))
    assert not diff, show(f"{table}, Hive vs the local engine", diff)


@pytest.mark.parametrize("table", list(SPECS))
def test_the_emulator_model_reads_what_hive_reads(
    spark: Any, golden: GoldenLake, table: str
) -> None:
    spec = SPECS[table]
    storage = spec.storage.storage
    model: list[tuple[object, ...]] = []
    for path in golden.files(spec):
        model += hive_serde.read_rows(
            path.read_bytes(),
            serde=storage.serde,
            parameters=storage.parameters,
            column_types=[spec.stored_type(c) for c in spec.columns],
            skip_header_lines=storage.header_lines,
        )
    rows = drop_header(hive_rows(spark, golden.database, table), table)
    assert comparable(model) == comparable(rows)


def test_movies_titles_survive_open_csv_serde(spark: Any, golden: GoldenLake) -> None:
    """The acceptance criterion, spelled out: quotes, doubled quotes, a quoted comma, a backslash,
    non-ASCII, padding and a tab inside quotes all read through OpenCSVSerde (escapeChar NUL)
    exactly as the local engine reads them."""
    rows = drop_header(hive_rows(spark, golden.database, MOVIES.name), MOVIES.name)
    titles = {movie_id: title for movie_id, title, _ in rows}
    assert len(rows) == len(titles) == 15
    assert titles["2"] == "American President, The (1995)"
    assert titles["3"] == 'Great "Escape" Artist (1963)'
    assert titles["5"] == "Babylon 5 (1993\u20131998)"
    assert titles["8"] == "  Padded Title  (2001)  "
    assert titles["14"] == "Line\tBreak (2003)"
    assert titles["15"] == "Back\\slash (2004)"  # kept: NUL is the escape, not '\'
    assert rows == golden.local_rows(MOVIES.name)


@pytest.mark.parametrize("table", list(SPECS))
def test_crlf_copy_reads_like_the_lf_file(spark: Any, golden: GoldenLake, table: str) -> None:
    """TextInputFormat ends a record at LF, CRLF or CR, so a CRLF copy reads exactly the same."""
    crlf = drop_header(hive_rows(spark, golden.database, table + CRLF), table + CRLF)
    lf = drop_header(hive_rows(spark, golden.database, table), table)
    diff = row_diff(comparable(crlf), comparable(lf))
    assert not diff, show(f"{table}, CRLF vs LF through Hive", diff)


@pytest.mark.parametrize("spec", [MOVIES, RATINGS], ids=lambda s: s.name)
def test_local_engine_reads_the_crlf_source_files_the_same(
    golden: GoldenLake, spec: TableSpec
) -> None:
    """The local engine's views (same template, over the CRLF copy) agree with Hive on CRLF."""
    crlf = _crlf_spec(spec)
    folder = location(golden.root / crlf.folder)
    with duckdb.connect() as con:
        con.execute(rendering.duckdb_create_schema(golden.database))
        con.execute(
            rendering.duckdb_create_view(
                golden.database, crlf, f"{folder}*{crlf.file_suffix}", folder
            )
        )
        local_crlf = con.execute(f"SELECT * FROM {golden.database}.{crlf.name}").fetchall()
    assert local_crlf == golden.local_rows(spec.name)
